"""`TensorFlowLoop`: the model's `train_step` in a compiled `tf.while_loop` over in-memory tensors."""

import keras

from nndl_keras.training.engines.base import StepProgram, build_for_training, predict_in_batches, scaled


class TensorFlowLoop(StepProgram):
    """The model's own `train_step`, one per row of example indices, in a compiled `tf.while_loop`.

    With the book's m = 10 a plain `fit` spends most of its time between steps;
    kept on the device as one compiled loop per chunk, an epoch of ch1 takes a
    fraction of the time. The step is the model's `train_step` (an override,
    loss scaling and the loss tracker work as under `fit`); the metrics are
    zeroed before each step, so that its logged loss is that step's own.

    Args:
        model: a compiled Keras model (TensorFlow backend).
        x: the training inputs (uint8 pixels are scaled per mini-batch).
        y: the training labels.
        batch_size: the book's mini-batch size m.
        jit_compile: compile the loops with XLA (else graph mode).

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> program = TensorFlowLoop(model, x, y, batch_size=10)
    >>> program.run(np.arange(100).reshape(1, 10, 10)).shape  # (steps, models)
    (10, 1)
    """

    name = "fused"

    def __init__(self, model, x, y, batch_size, jit_compile=True):
        if keras.backend.backend() != "tensorflow":
            raise ValueError("TensorFlowLoop needs the TensorFlow backend; use engine='fit'")
        import tensorflow as tf

        super().__init__([model], y, batch_size)
        self._tf, self._x, self._y = tf, tf.constant(x), tf.constant(y)
        # Variables must exist before tracing: a compiled loop cannot create them.
        build_for_training(model, x[:batch_size], y[:batch_size])
        rows = None if jit_compile else [tf.TensorSpec([None, None], tf.int32)]  # graph mode: one trace for all
        self._loop = tf.function(self._steps, jit_compile=jit_compile, reduce_retracing=True, input_signature=rows)
        self._forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=jit_compile, reduce_retracing=True)

    def _steps(self, rows):
        tf, (model,) = self._tf, self.models

        def body(i, costs):
            for variable in model.metrics_variables:
                variable.assign(tf.zeros_like(variable))
            x = scaled(tf.gather(self._x, rows[i]), model.compute_dtype)
            logs = model.train_step((x, tf.gather(self._y, rows[i])))
            return i + 1, costs.write(i, tf.cast(logs["loss"], tf.float32))

        steps = tf.shape(rows)[0]
        _, costs = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.TensorArray(tf.float32, size=steps)))
        return costs.stack()

    def run(self, rows):
        return self._loop(rows[0]).numpy()[:, None]

    def predict(self, x):
        return predict_in_batches(self._forward, x)[None]
