"""Where a run trains: one `--device` switch over tf.distribute and keras.distribution, which
split each global mini-batch across the replicas and all-reduce the gradients (the runner
trains `train_step` under a strategy, `engines.DistributedSteps`, or `fit` under a distribution).
What each `--device` picks on each backend, and what has run where: docs/devices.md.
"""

import contextlib
import dataclasses
import glob
import json
import os

import keras

from nndl_keras.errors import NNDLError

DEVICES = ("auto", "cpu", "gpu", "tpu")


@dataclasses.dataclass
class Placement:
    """A chosen device: its kind, how many replicas share a mini-batch, and the scope to build in.

    Attributes:
        kind: "cpu", "gpu" or "tpu".
        strategy: the `tf.distribute.Strategy`, or `None` (TF's default, or JAX).
        distribution: the `keras.distribution.Distribution`, or `None`.
        replicas: devices a global mini-batch is split across.
        description: one line for the terminal and `metrics.json`.
        default_device: where to train when nothing is distributed: a JAX device or a TF device name.
    """

    kind: str
    strategy: object = None
    distribution: object = None
    replicas: int = 1
    description: str = ""
    default_device: object = None

    @property
    def mirrored(self):
        """Whether a (multi-worker) `MirroredStrategy` trains."""
        return self.strategy is not None and "Mirrored" in type(self.strategy).__name__

    @property
    def steps_per_execution(self):
        """The default steps per device call: many for accelerators and distributed runs."""
        return 100 if self.distributed else 1

    @property
    def distributed(self):
        """Whether a strategy or distribution spreads training over devices (the distributed engine, or fit)."""
        return self.strategy is not None or self.distribution is not None

    def scope(self):
        """Where models are built, so that their variables are placed and mirrored."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        if isinstance(self.default_device, str):
            import tensorflow as tf

            return tf.device(self.default_device)
        if self.default_device is not None:
            import jax

            return jax.default_device(self.default_device)
        return contextlib.nullcontext()

    def to_dict(self):
        return {"kind": self.kind, "replicas": self.replicas, "description": self.description}


def select(device="auto"):
    """The `Placement` for `device` (a name from `DEVICES`, a strategy or a distribution)."""
    if device is None:
        device = "auto"
    if not isinstance(device, str):
        return _given(device)
    if device not in DEVICES:
        raise NNDLError(f"unknown device {device!r}: use {', '.join(DEVICES)}")
    if keras.backend.backend() == "jax":
        return _jax(device)
    if keras.backend.backend() == "tensorflow":
        return _tensorflow(device)
    if device in ("gpu", "tpu"):
        raise NNDLError(f"--device {device} needs the TensorFlow or JAX backend")
    return Placement("cpu", description=f"{keras.backend.backend()} backend, its default device")


def _given(device):
    # keras.distribution exports no base class: tell the two kinds by what they have.
    if hasattr(device, "device_mesh"):
        devices = device.device_mesh.devices.flatten()
        kind = getattr(devices[0], "platform", "cpu")
        description = f"{type(device).__name__} over {len(devices)} devices"
        return Placement(kind, distribution=device, replicas=len(devices), description=description)
    if hasattr(device, "num_replicas_in_sync"):
        replicas = device.num_replicas_in_sync
        kind = "tpu" if "TPU" in type(device).__name__ else "cpu"
        return Placement(kind, strategy=device, replicas=replicas, description=f"{type(device).__name__}, {replicas} replicas")
    raise NNDLError(f"device must be one of {', '.join(DEVICES)}, a tf.distribute strategy or a keras distribution")


def _workers():
    """How many workers TF_CONFIG names (0 when it is unset)."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        raise NNDLError("TF_CONFIG is not valid JSON") from None
    return len(config.get("cluster", {}).get("worker", []))


def _tpu_hint():
    """Whether this machine looks like it has a TPU (asking the resolver can take minutes offline)."""
    return bool(os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or glob.glob("/dev/accel*"))


def _tpu_address():
    """What `TPUClusterResolver` is given: "local" on a TPU VM (its chips are this machine's,
    /dev/accel*), else `None`, so that it reads TPU_NAME (a TPU node) itself."""
    if not os.environ.get("TPU_NAME") and glob.glob("/dev/accel*"):
        return "local"
    return None


def _tensorflow(device):
    import tensorflow as tf

    if device == "tpu" or (device == "auto" and _tpu_hint()):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=_tpu_address())
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            if device == "tpu":
                # PyPI's tensorflow has no TPU kernels, and tensorflow-tpu has failed on Colab's
                # TPU VMs ("no OpKernel ... ConfigureDistributedTPU"): JAX is what runs there.
                raise NNDLError(
                    f"--device tpu: no TPU found for TensorFlow ({(str(e).splitlines() or [''])[0]}); "
                    "on a TPU VM (Colab, Kaggle) train on the JAX backend: KERAS_BACKEND=jax"
                ) from None
        else:
            strategy = tf.distribute.TPUStrategy(resolver)
            n = strategy.num_replicas_in_sync
            return Placement("tpu", strategy, replicas=n, description=f"TPUStrategy, {n} TPU cores")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise NNDLError("--device gpu: TensorFlow sees no GPU on this machine")
    workers = _workers()
    if workers > 1 and device in ("auto", "cpu", "gpu"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        n = strategy.num_replicas_in_sync
        return Placement(
            "gpu" if gpus and device != "cpu" else "cpu",
            strategy,
            replicas=n,
            description=f"MultiWorkerMirroredStrategy, {workers} workers, {n} replicas",
        )
    if gpus and device in ("auto", "gpu"):
        if len(gpus) == 1:  # nothing to mirror: the fused engine's compiled loop runs on the GPU
            return Placement("gpu", description="one GPU (TensorFlow's default strategy)", default_device="/gpu:0")
        strategy = tf.distribute.MirroredStrategy()
        n = strategy.num_replicas_in_sync
        return Placement("gpu", strategy, replicas=n, description=f"MirroredStrategy over {n} GPUs")
    # TensorFlow puts ops on a GPU when there is one: --device cpu must say where.
    return Placement("cpu", description="one CPU device (TensorFlow's default strategy)", default_device="/cpu:0" if gpus else None)


def _jax(device):
    import jax

    kinds = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}
    if device == "auto":
        platform = jax.default_backend()  # "tpu", "gpu" or "cpu": the best JAX found
        device = platform if platform in kinds else "cpu"
    try:
        devices = jax.devices(kinds[device])
    except RuntimeError:
        raise NNDLError(f"--device {device}: JAX sees no {device.upper()} on this machine") from None
    if len(devices) == 1:
        return Placement(device, description=f"one {device.upper()} device ({devices[0].device_kind}), JAX", default_device=devices[0])
    distribution = keras.distribution.DataParallel(devices=devices)
    return Placement(device, distribution=distribution, replicas=len(devices),
                     description=f"keras.distribution.DataParallel over {len(devices)} {device.upper()}s")


def one_of(placement, batch_size):
    """The first of `placement`'s devices alone, for a net whose mini-batch does not split across
    them (the book's 10 is never changed to fit a device count), said so in the description;
    `None` where there is no one device to fall back to (a TPU strategy, several workers)."""
    n = placement.replicas
    why = f"the mini-batch of {batch_size} does not split across {n}; a --batch-size that is a multiple of {n} trains on all"
    if placement.distribution is not None and hasattr(placement.distribution, "device_mesh"):
        device = placement.distribution.device_mesh.devices.flatten()[0]
        description = f"one {placement.kind.upper()} device of {n} ({device.device_kind}), JAX: {why}"
        return Placement(placement.kind, description=description, default_device=device)
    if placement.kind == "gpu" and placement.mirrored and _workers() <= 1:
        return Placement("gpu", description=f"one GPU of {n} (TensorFlow's default strategy): {why}", default_device="/gpu:0")
    return None


def trains_together(hp, engine, placement):
    """Whether an ensemble's members train side by side (`engines.JaxScan`), not one after another:
    on JAX, with `engine="stacked"`, or `"auto"` on an accelerator or several devices (the book's
    mini-batch of 10 leaves a GPU idle; devices take whole members). On a CPU `auto` trains them
    one after another: fastest with TensorFlow (oneDNN), and on either backend exactly the members
    trained apart (`--member K`), which the stack matches only to float tolerance."""
    if keras.backend.backend() != "jax" or "members" not in hp.options or hp.options.get("member") is not None:
        return False
    if engine == "stacked":
        return True
    return engine == "auto" and (placement.kind != "cpu" or placement.replicas > 1)
