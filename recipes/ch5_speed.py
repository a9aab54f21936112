"""Chapter 5: the speed of learning of each hidden layer, and the vanishing and exploding gradient."""

import numpy as np

from nndl_keras import book
from nndl_keras.callbacks import GradientNormMonitor
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Recipe, register
from nndl_keras.recipes.ch5_depth import NETWORK2, PROBE_SIZE, write_norms

# fig/generate_gradient.py: the first 1,000 images, full-batch gradient descent,
# eta 0.1, lambda 5.0, 500 epochs, norms measured before every epoch.
FULL_BATCH = NETWORK2.replace(batch_size=PROBE_SIZE, train_size=PROBE_SIZE, epochs=500)

# The monitor's diagnosis: it says so (once) when the first hidden layer learns
# more than 100 times slower than the output layer (at initialisation the ratio
# is about 0.05 with 2 hidden layers, 0.007 with 3 and 0.002 with 4), or more
# than 100 times faster (about 600 in ch5-exploding, below).
VANISHING_RATIO = 0.01
EXPLODING_RATIO = 100


def alerting_monitor(hp, data):
    probe = data.training.take(PROBE_SIZE)
    return [
        GradientNormMonitor((probe.x, probe.y), vanishing_ratio=VANISHING_RATIO, exploding_ratio=EXPLODING_RATIO)
    ]


def speed_report(hidden):
    def report(out, callbacks, metrics):
        curves = np.array(book.figure(f"norms_during_training_{hidden}_layers"))
        reference = {f"book: hidden_{i + 1}": curves[:, i].tolist() for i in range(hidden)}
        summary = write_norms(out, callbacks, metrics, reference, f"Speed of learning, {hidden} hidden layers")
        first, last = summary["final_bias_norms"][0], summary["final_bias_norms"][-1]
        ratio, book_ratio = last / first, float(curves[-1, -1] / curves[-1, 0])
        return {
            **summary,
            "book_initial_bias_norms": curves[0].tolist(),
            "book_final_bias_norms": curves[-1].tolist(),
            "final_last_over_first": ratio,
            "book_final_last_over_first": book_ratio,
            # What the recipe exists for is the norms, not an accuracy (ch5-speed-4's
            # is 10% after its 500 full-batch steps): its accuracy stays in the metrics.
            "measured_accuracy": None,
        }

    return report


def norms_headline(metrics):
    """The speed of learning in a line: each hidden layer's ‖δ‖ before and after training."""

    def norms(values):
        return ", ".join(f"{v:.2g}" for v in values)

    return (
        f"‖δ^l‖ of hidden layers 1-{len(metrics['initial_bias_norms'])}: {norms(metrics['initial_bias_norms'])} "
        f"at the start, {norms(metrics['final_bias_norms'])} after {metrics['epochs_run']} epochs; "
        f"the last learns {metrics['final_last_over_first']:.0f}x faster than the first "
        f"(book: {metrics['book_final_last_over_first']:.0f}x)"
    )


def growth_headline(metrics):
    """The exploding gradient in a line: how much ‖δ^l‖ grows a layer on its way back."""
    growth = ", ".join(f"{g:.1f}x" for g in metrics["initial_growth_per_layer"])
    return f"‖δ^l‖ grows {growth} a layer towards the input before training (w·σ′(0) = 25)"


for hidden in (2, 3, 4):
    register(
        Recipe(
            name=f"ch5-speed-{hidden}",
            chapter=5,
            description=f"speed of learning of {hidden} hidden layers: full-batch GD on 1,000 images, ‖δ^l‖ every epoch",
            hparams=FULL_BATCH.replace(layers=(784, *[30] * hidden, 10)),
            book=BookResult(None, split="validation", at="final", source=f"ch5-speed-{hidden}h"),
            build=feedforward,
            callbacks=alerting_monitor,
            report=speed_report(hidden),
            headline=norms_headline,
        )
    )


# The exploding gradient (chapter 5, "The exploding gradient problem"): weights
# of 100 and biases that make every weighted input 0, so each layer multiplies
# the gradient by w·σ′(0) = 100/4 = 25 on its way back. Here every hidden neuron
# of layer l ≥ 2 gets weights 100/30 from the 30 below (a total of 100) and bias
# −50, and the first hidden layer weights and biases of 0, so every hidden z is 0.
# The monitor's exploding alert fires before training (the first hidden layer
# learns ~600x faster than the output layer); the first step, of η times that
# gradient, saturates every hidden neuron, and the vanishing alert follows.
EXPLODING_WEIGHT = 100.0


def exploding_net(hp):
    model = feedforward(hp)
    hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")]
    for i, layer in enumerate(hidden):
        kernel, bias = layer.get_weights()
        if i == 0:
            layer.set_weights([np.zeros_like(kernel), np.zeros_like(bias)])
        else:
            fan_in = kernel.shape[0]
            layer.set_weights([np.full_like(kernel, EXPLODING_WEIGHT / fan_in), np.full_like(bias, -EXPLODING_WEIGHT / 2)])
    return model


def exploding_report(out, callbacks, metrics):
    summary = write_norms(out, callbacks, metrics, title="The exploding gradient: weights 100, every z = 0")
    norms = summary["initial_bias_norms"]
    return {**summary, "initial_growth_per_layer": [norms[i] / norms[i + 1] for i in range(len(norms) - 1)]}


register(
    Recipe(
        name="ch5-exploding",
        chapter=5,
        description="the exploding gradient: weights 100 and every weighted input 0, norms grow 25x per layer backwards",
        hparams=FULL_BATCH.replace(layers=(784, 30, 30, 30, 30, 10), epochs=1),
        book=BookResult(None, split="validation", at="final", source="ch5 exploding gradient (text)"),
        build=exploding_net,
        callbacks=alerting_monitor,
        report=exploding_report,
        headline=growth_headline,
    )
)
