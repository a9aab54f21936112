"""The initialisers' seeds as Keras's random initialisers treat theirs.

The checks of keras/src/initializers/random_initializers_test.py: an unseeded
initialiser records `seed=None` in its config (so a copy made from the config,
`from_config` or `keras.models.clone_model`, draws weights of its own), an
integer seed repeats its values across calls and copies, and a
`keras.random.SeedGenerator` seed draws new values on every call and
serialises. Written with keras.ops only: `test_parts_backends.py` runs this
file again under JAX.
"""

import json

import keras
import numpy as np
from keras.src import testing

from nndl_keras import initializers
from nndl_keras.layers import ConvPool2D

SHAPE = (25, 20)
KINDS = [
    (initializers.StandardNormal, {}),
    (initializers.DefaultWeightInitializer, {}),
    (initializers.Network3WeightInitializer, {"pool_size": (2, 2)}),
]


class InitializerSeeds(testing.TestCase):
    def test_unseeded_config_records_no_seed(self):
        for cls, kwargs in KINDS:
            config = cls(**kwargs).get_config()
            self.assertIsNone(config["seed"], cls.__name__)
            self.assertEqual(cls.from_config(config).get_config(), config)

    def test_unseeded_copies_draw_new_values(self):
        for cls, kwargs in KINDS:
            initializer = cls(**kwargs)
            values = initializer(shape=SHAPE)
            clone = cls.from_config(initializer.get_config())
            self.assertNotAllClose(values, clone(shape=SHAPE), msg=cls.__name__)
            self.assertNotAllClose(values, cls(**kwargs)(shape=SHAPE), msg=cls.__name__)
            # As Keras documents: an unseeded instance repeats its own values.
            self.assertAllClose(values, initializer(shape=SHAPE), msg=cls.__name__)

    def test_integer_seed_is_reproducible_across_calls_and_copies(self):
        for cls, kwargs in KINDS:
            initializer = cls(seed=1337, **kwargs)
            values = initializer(shape=SHAPE)
            self.assertEqual(initializer.get_config()["seed"], 1337)
            self.assertAllClose(values, initializer(shape=SHAPE), msg=cls.__name__)
            clone = cls.from_config(initializer.get_config())
            self.assertAllClose(values, clone(shape=SHAPE), msg=cls.__name__)
            self.run_class_serialization_test(initializer)

    def test_seed_generator_draws_anew_and_serialises(self):
        for cls, kwargs in KINDS:
            initializer = cls(seed=keras.random.SeedGenerator(1337), **kwargs)
            self.assertNotAllClose(initializer(shape=SHAPE), initializer(shape=SHAPE), msg=cls.__name__)
            self.run_class_serialization_test(initializer)
            config = keras.saving.serialize_keras_object(initializer)
            json.dumps(config)  # what model.save writes
            revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
            self.assertIsInstance(revived.seed, keras.random.SeedGenerator)

    def test_model_with_a_seed_generator_initializer_saves_and_loads(self):
        path = self.get_temp_dir() + "/model.keras"
        dense = keras.layers.Dense(3, kernel_initializer=initializers.StandardNormal(seed=keras.random.SeedGenerator(1)))
        model = keras.Sequential([keras.Input((4,)), dense])
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(model.get_weights()[0], loaded.get_weights()[0])


def test_cloned_model_starts_from_new_weights():
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            ConvPool2D(4, kernel_size=(5, 5), pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(
                10, kernel_initializer=initializers.DefaultWeightInitializer(), bias_initializer=initializers.StandardNormal()
            ),
        ]
    )
    clone = keras.models.clone_model(model)
    for name, ours, theirs in zip(["conv kernel", "conv bias", "dense kernel", "dense bias"], model.get_weights(), clone.get_weights()):
        assert ours.shape == theirs.shape
        assert not np.allclose(ours, theirs), f"the clone's {name} is the original's"
