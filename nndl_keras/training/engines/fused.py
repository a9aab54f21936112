"""`FusedSGD`: an epoch's mini-batches as compiled TensorFlow loops over in-memory tensors."""

import keras

from nndl_keras.training.engines.base import _Engine, predict_in_batches, scaled


class FusedSGD(_Engine):
    """The epoch's mini-batches as compiled TensorFlow loops over in-memory tensors, a chunk per call.

    With the book's m = 10 a plain `fit` spends most of its time between steps
    (about 8.6 s an epoch for ch1 on a 2-core CPU); kept on the device and run
    as `tf.while_loop`s, the same epoch takes about 0.2 s. Each step applies
    the optimizer once to the gradient of the compiled loss (regularisation
    included) on one mini-batch.

    Args:
        model: a compiled Keras model (TensorFlow backend).
        x: the training inputs (uint8 pixels are scaled per mini-batch).
        y: the training labels.
        batch_size: the book's mini-batch size m.
        seed: seeds the generator that reshuffles the data every epoch.
        jit_compile: compile the loops with XLA (else graph mode).
        reshuffle: reshuffle every epoch, or keep the data's own order (network3).

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> engine = FusedSGD(model, x, y, batch_size=10, seed=0)
    >>> len(engine.train_epochs(2)), engine.predict(x[:5]).shape
    (2, (5, 3))
    """

    name = "fused"

    def __init__(self, model, x, y, batch_size, seed, jit_compile=True, reshuffle=True):
        if keras.backend.backend() != "tensorflow":
            raise ValueError("the fused engine needs the TensorFlow backend; use engine='fit'")
        import tensorflow as tf

        super().__init__(model, batch_size, seed, reshuffle)
        self._tf = tf
        self._x = tf.constant(x)
        self._y = tf.constant(y)
        self._n = len(y)
        # Variables must exist before tracing: the optimizer creates its own
        # on the first apply otherwise, which a compiled loop cannot do.
        model.optimizer.build(model.trainable_variables)
        # In graph mode one trace serves every chunk length; XLA compiles each length.
        rows = None if jit_compile else [tf.TensorSpec([None, None], tf.int32)]
        self._loop = tf.function(self._loop_over, jit_compile=jit_compile, reduce_retracing=True, input_signature=rows)
        self._forward = tf.function(
            lambda inputs: model(inputs, training=False), jit_compile=jit_compile, reduce_retracing=True
        )

    def _train_step(self, indices):
        tf, model = self._tf, self.model
        x, y = scaled(tf.gather(self._x, indices), model.compute_dtype), tf.gather(self._y, indices)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(gradients, model.trainable_variables)
        return loss

    def _loop_over(self, rows):
        """One SGD step per row of example indices; each step's cost."""
        tf = self._tf
        steps = tf.shape(rows)[0]

        def body(i, costs):
            return i + 1, costs.write(i, tf.cast(self._train_step(rows[i]), tf.float32))

        _, costs = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.TensorArray(tf.float32, size=steps)))
        return costs.stack()

    def _run_rows(self, rows):
        return self._loop(rows).numpy()

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), in slices."""
        return predict_in_batches(self._forward, x)
