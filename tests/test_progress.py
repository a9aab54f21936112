"""The run's progress lines: the estimate is timed on the mini-batches actually run."""

import io

from nndl_keras.progress import Progress, duration


def estimate_after(reports, position=0):
    """The estimate line after the engine's `reports` (done, total, rate), for a training
    of 2 epochs of 1,000 mini-batches resumed `position` mini-batches into its first."""
    said = []
    progress = Progress(said.append, stream=io.StringIO())
    progress.start_training(0, 2, 1_000, position)
    for done, total, rate in reports:
        progress.steps(done, total, rate)
    return [line for line in said if "estimate" in line]


def test_the_estimate_counts_the_steps_run_not_the_position_resumed_at():
    # 100 mini-batches/s; after resuming 900 into the epoch, 40 more in one chunk: 0.4 s timed,
    # not enough for an estimate (0.5 s); counting the 900 skipped ones would claim 9.4 s.
    assert estimate_after([(940, 2_000, 100.0)], position=900) == []
    (line,) = estimate_after([(940, 2_000, 100.0), (1_000, 2_000, 100.0)], position=900)
    # 2,000 mini-batches of the training left at 100/s (the estimate covers whole epochs left).
    assert f"about {duration(20)} of training" in line and "(100 mini-batches/s)" in line


def test_a_fresh_training_counts_from_its_first_chunk():
    assert estimate_after([(40, 2_000, 100.0)]) == []
    assert len(estimate_after([(40, 2_000, 100.0), (60, 2_000, 100.0)])) == 1


def test_the_eta_is_the_median_epoch_so_a_pause_does_not_stretch_it(monkeypatch):
    from nndl_keras import progress as module

    clock = iter([0.0, 10.0, 20.0, 630.0, 640.0])  # the third epoch: a 10-minute pause
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    said = []
    progress = Progress(said.append, stream=io.StringIO())
    progress.start_training(0, 10, 1_000)
    for epoch in range(1, 5):
        progress.epoch_done(epoch, 10.0, "")
    # 6 epochs left at the median 10 s, not at the mean 160 s (16 min).
    assert said[-1].startswith(f"Epoch 4/10 - 10.00s - ETA {duration(60)} - ")


def test_the_first_eta_after_a_resume_mid_epoch_times_a_whole_epoch(monkeypatch):
    from nndl_keras import progress as module

    # Resumed 750 of 1,000 mini-batches into epoch 3: its rest takes 10 s, a whole epoch 40 s.
    clock = iter([0.0, 10.0, 50.0])
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    said = []
    progress = Progress(said.append, stream=io.StringIO())
    progress.start_training(2, 10, 1_000, position=750)
    progress.epoch_done(3, 10.0, "")
    progress.epoch_done(4, 40.0, "")
    # 7 then 6 epochs left at 40 s each, not at the median of 10 s and 40 s.
    assert [line.split(" - ")[2] for line in said] == [f"ETA {duration(7 * 40)}", f"ETA {duration(6 * 40)}"]


def test_a_time_is_said_as_an_estimate_or_to_the_second():
    # One formatter for the ETA (rounded) and a record's wall time (exact below an hour).
    assert [duration(s) for s in (45, 89, 90, 812, 5340, 7131)] == ["45 s", "89 s", "2 min", "14 min", "89 min", "1 h 59 min"]
    exact = [duration(s, exact=True) for s in (45, 60, 812, 3599, 3600, 7131)]
    assert exact == ["45 s", "1 min 0 s", "13 min 32 s", "59 min 59 s", "1 h 00 min", "1 h 58 min"]
