"""Gradients of a compiled model's loss, on whichever Keras backend runs.

Private to the parts (which never import `nndl_keras.training`): the callbacks
differentiate with respect to the weights, `nndl_keras.adversarial` with respect
to the input images, and `recipes/ch2_backprop.py` checks backpropagation against it.
"""

import keras

SUPPORTED_BACKENDS = ("tensorflow", "jax")


def check_backend(what="loss_gradient_fn"):
    """Raises a one-line `RuntimeError` on a backend other than TensorFlow or JAX."""
    backend = keras.backend.backend()
    if backend not in SUPPORTED_BACKENDS:
        raise RuntimeError(f"{what} works on the TensorFlow and JAX backends only, not on {backend}")


def loss_gradient_fn(model, wrt="weights"):
    """`fn(x, y) -> [∂loss/∂w for w in model.trainable_variables]`, or with
    `wrt="inputs"`, `fn(x, y) -> ∂loss/∂x` (shaped like `x`).

    The loss is the model's compiled loss plus its regularisation terms, as in
    training, evaluated in inference mode (`training=False`): no dropout mask
    is drawn, BatchNormalization uses its moving statistics, and no variable or
    random state changes. `x` and `y` may be nested (lists, tuples, dicts), as
    `fit` takes them. TensorFlow and JAX.

    Raises:
        ValueError: the model was compiled without a loss (a custom
            `train_step` computes its own), so there is no loss to differentiate.
        RuntimeError: another backend (torch).
    """
    check_backend()
    if wrt not in ("weights", "inputs"):
        raise ValueError(f"wrt must be 'weights' or 'inputs', got {wrt!r}")
    if getattr(model, "loss", None) is None:  # compile() sets the loss it builds, or none
        raise ValueError(
            f"the gradient norms are those of the model's compiled loss, and {model.name} was compiled "
            "without one (loss=None, as with a custom train_step): compile it with the loss it trains on"
        )
    if keras.backend.backend() == "tensorflow":
        return _tensorflow_gradients(model, wrt)
    return _jax_gradients(model, wrt)


def _tensorflow_gradients(model, wrt):
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def gradients(x, y):
        with tf.GradientTape() as tape:
            if wrt == "inputs":
                tape.watch(x)
            y_pred = model(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            # Under a tf.distribute strategy Keras divides every loss by the
            # replica count, expecting the replicas' gradients to be summed
            # (keras.losses.loss.scale_loss_for_distribution). Here each replica
            # sees the whole probe, so undo it: the norms of one replica are then
            # those measured without a strategy.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = loss * tf.cast(replicas, loss.dtype)
        return tape.gradient(loss, x if wrt == "inputs" else model.trainable_variables)

    strategy = tf.distribute.get_strategy()
    if tf.distribute.has_strategy() and strategy.num_replicas_in_sync > 1:
        # Cross-replica context: read the mirrored weights once, on one device.
        return lambda x, y: strategy.experimental_local_results(strategy.run(gradients, (x, y)))[0]
    return gradients


def _jax_gradients(model, wrt):
    import jax

    # compute_loss_and_updates(trainable, non_trainable, metrics, x, y, ...): argument 0 or 3.
    argnums = 3 if wrt == "inputs" else 0
    grad = jax.jit(jax.grad(model.compute_loss_and_updates, argnums=argnums, has_aux=True), static_argnames="training")

    def gradients(x, y):
        state = [
            [v.value for v in variables]
            for variables in (model.trainable_variables, model.non_trainable_variables, model.metrics_variables)
        ]
        g, _ = grad(*state, x, y, None, training=False)
        return g

    return gradients
