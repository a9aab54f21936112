import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nndl_keras")
class Network3Dropout(keras.layers.Dropout):
    """network3's dropout (chapter 6): drop inputs in training, scale by (1 − p) at test time.

    During training each input is kept with probability 1 − p and dropped
    (set to 0) with probability p, and the kept inputs are passed on *as they
    are*: network3's `dropout_layer` multiplies the layer's input by a 0/1
    binomial mask. At inference every input is multiplied by (1 − p), which is
    network3's `(1 - p_dropout) * T.dot(inpt, w)` for the layer that follows
    (the bias is not scaled). Chapter 3 describes the same thing as halving the
    weights outgoing from the hidden neurons at test time.

    Keras's `Dropout` is *inverted* dropout: it divides the kept inputs by
    (1 − p) during training and does nothing at inference. The two compute the
    same function when W_keras = (1 − p)·W_book, but they are not the same
    experiment for SGD: a step of η on W_keras moves W_book by η/(1 − p)² times
    the gradient (4x at p = 0.5), and the same initialiser starts W_book
    1/(1 − p) times larger. Use this layer to train as the book does.

    Args:
        rate: the probability p of dropping each input, in [0, 1].
        noise_shape: shape of the 0/1 mask, broadcast over the inputs (`None`
            entries take the input's size), as for `keras.layers.Dropout`.
        seed: a Python int for the mask's random draws (`None`: drawn anew).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: input tensor of any rank.
        training: `True` to drop inputs, `False` (inference) to scale them.

    Example:

    >>> import numpy as np
    >>> layer = Network3Dropout(0.5, seed=1)
    >>> np.asarray(layer(np.ones((1, 4)), training=False)).tolist()
    [[0.5, 0.5, 0.5, 0.5]]
    >>> sorted(set(np.asarray(layer(np.ones((1, 1000)), training=True)).ravel().tolist()))
    [0.0, 1.0]
    """

    def call(self, inputs, training=False):
        keep = 1.0 - self.rate
        if not training:
            return inputs * ops.cast(keep, inputs.dtype)
        if self.rate == 0:
            return inputs
        mask = keras.random.uniform(self._mask_shape(inputs), seed=self.seed_generator) < keep
        return inputs * ops.cast(mask, inputs.dtype)

    def _mask_shape(self, inputs):
        shape = ops.shape(inputs)
        if self.noise_shape is None:
            return shape
        return tuple(size if wanted is None else wanted for size, wanted in zip(shape, self.noise_shape))
