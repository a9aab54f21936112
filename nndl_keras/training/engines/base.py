"""What every step program shares: the interface, uint8 scaling, building, predicting in slices."""

import keras
import numpy as np

PREDICT_BATCH = 2000


def scaled(images, dtype="float32"):
    """uint8 pixels (the expanded set, stored so: 250,000 images in a quarter of the memory)
    as floats in [0, 1], from NumPy arrays or the backend's tensors, inside compiled code
    too, so that every engine scales the same way; any other input unchanged."""
    if keras.backend.standardize_dtype(images.dtype) != "uint8":
        return images
    if isinstance(images, np.ndarray):
        return images.astype(dtype) / np.asarray(255, dtype)
    return keras.ops.cast(images, dtype) / 255.0


def build_for_training(model, x, y):
    """Creates the compiled loss's, metrics' and optimizer's variables, outside any compiled
    loop, through Keras's public calls on one mini-batch (`x`, `y`), as `fit` builds them
    before its first step. An inference call draws no dropout mask, so no random state moves."""
    x, y = scaled(np.asarray(x), model.compute_dtype), np.asarray(y)
    y_pred = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()  # the mini-batch above counts in no logged mean
    model.optimizer.build(model.trainable_variables)


def predict_in_batches(forward, x, axis=0):
    """`forward` of `x` in slices of `PREDICT_BATCH` examples (uint8 pixels scaled),
    joined along `axis` (1 where the outputs have a leading member axis)."""
    outputs = [np.asarray(forward(scaled(x[start : start + PREDICT_BATCH]))) for start in range(0, len(x), PREDICT_BATCH)]
    return np.concatenate(outputs, axis=axis)


def book_batches(x, y, batch_size, orders=None):
    """Mini-batches as a `tf.data` pipeline: consecutive examples in the order given, or, with
    `orders` (epochs, n), each epoch's examples in its order; uint8 pixels scaled per
    mini-batch; sharded by data, never by file, when distributed. `x` and `y` may be
    arrays or, so that calls share one copy of a large set, `tf` tensors."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if orders is None:
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    else:  # an epoch gathered at a time, as it is reached: one copy of the set in memory
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)  # tensors given are not copied
        data = tf.data.Dataset.from_tensor_slices(np.asarray(orders)).flat_map(
            lambda order: tf.data.Dataset.from_tensor_slices((tf.gather(x, order), tf.gather(y, order))).batch(batch_size)
        )
    if x.dtype == np.uint8:  # tf.data runs TensorFlow ops whatever Keras's backend: scaled by tf
        data = data.map(lambda images, labels: (tf.cast(images, tf.float32) / 255.0, labels))
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


class StepProgram:
    """Runs the models' own `train_step` on given mini-batches: what an engine is.

    The epochs' order, chunks, stops and resumes are `training.epochs.Epochs`'s.
    `begin(orders, step)` sets up a call over `orders` (epochs, M, n) from global
    step `step`; `run(rows)` takes a step per row of example indices (rows: M,
    steps, m) and returns the steps' costs (steps, M); `sync()` makes the models
    hold the weights reached; `predict(x)` gives the outputs (M, len(x), outputs).

    Attributes:
        name: the engine's name, as `--engine` and `metrics.json` say it.
        models: the M models it trains (one, except the JAX program's stack).
        size: examples in the training set.
        n: examples trained per epoch (all, unless a TPU's static shapes drop a smaller last mini-batch).
        chunk_seconds: how long a chunk should take: how often a stop is looked at.
        fixed_chunk: mini-batches in every chunk, when they must not be timed.
    """

    name = None
    chunk_seconds = 0.5
    fixed_chunk = None

    def __init__(self, models, y, batch_size, static_shapes=False):
        self.models, self.batch_size, self.size = list(models), batch_size, len(y)
        full = len(y) - len(y) % batch_size
        self.n = full if static_shapes and full else len(y)

    def begin(self, orders, step):
        """Before a call's first chunk (the JAX program takes the models' state, tf.distribute's makes the dataset)."""

    def run(self, rows):
        raise NotImplementedError

    def sync(self):
        """Makes the models hold the weights reached (the JAX program carries them outside the models)."""

    def predict(self, x):
        raise NotImplementedError

