"""Ways to run one epoch of the book's mini-batch SGD on a compiled Keras model.

Every engine takes the same steps: reshuffle the training data every epoch (as
network.py and network2.py do), cut it into consecutive mini-batches of m (the
last one smaller when m does not divide n), and apply the optimizer once per
mini-batch to the gradient of the model's compiled loss, regularisation included.
One engine a module; what they share is in `base`, and `make_engine` (`factory`)
picks one.

- `FusedSGD` (`fused`, TensorFlow backend) keeps the data on the device and
  runs the mini-batches as compiled `tf.while_loop`s, in chunks of about half a
  second (so that a Ctrl-C is answered between two of them, see
  `base._Engine`).
- `FusedJaxSGD` (`fused_jax`) is the same on the JAX backend: Keras's stateless
  `train_step` under `jax.lax.scan`, a jitted call per chunk.
- `StackedJaxSGD` (`stacked`, JAX) trains an ensemble's members side by side,
  one compiled step advancing them all.
- `DistributedSGD` (`distributed`) runs Keras's own `train_step` under a
  `tf.distribute` strategy (`strategy.run`), many steps per compiled call: the
  strategy splits each global mini-batch across the replicas and all-reduces
  the gradients.
- `FitSGD` (`fit`) calls `model.fit` for one epoch: any Keras backend, any
  `keras.distribution`.
"""

from nndl_keras.training.engines.base import PREDICT_BATCH
from nndl_keras.training.engines.distributed import DistributedSGD
from nndl_keras.training.engines.factory import make_engine
from nndl_keras.training.engines.fit import FitSGD
from nndl_keras.training.engines.fused import FusedSGD
from nndl_keras.training.engines.fused_jax import FusedJaxSGD
from nndl_keras.training.engines.stacked import StackedJaxSGD

__all__ = ["PREDICT_BATCH", "DistributedSGD", "FitSGD", "FusedJaxSGD", "FusedSGD", "StackedJaxSGD", "make_engine"]
