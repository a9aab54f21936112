"""The layers in Keras's own layer harness (`run_layer_test`).

The arguments are those Keras's tests give the nearest built-in layers
(conv_test.py's `Conv2D` for ConvPool2D, dense_test.py's `Dense` for StepPair
and Perceptron, random_translation_test.py's `RandomTranslation` for
PixelShift; test_network3_dropout.py holds the dropout layer's), adapted: shapes, weights,
symbolic and eager output shapes agree, serialisation round-trips, mixed
precision and a `fit` work. Written with keras.ops only:
`test_parts_backends.py` runs this file again under JAX.
"""

import numpy as np
from keras.src import testing

from nndl_keras.layers import ConvPool2D, Perceptron, PixelShift, StepPair


class ConvPool2DContract(testing.TestCase):
    def test_layer_contract(self):
        cases = [
            # (init_kwargs, input shape, output shape): conv "valid", stride 1, then pool
            ({"filters": 5, "kernel_size": 2, "pool_size": 2}, (3, 5, 5, 4), (3, 2, 2, 5)),
            ({"filters": 6, "kernel_size": (2, 2), "pool_size": (2, 1)}, (3, 5, 5, 4), (3, 2, 4, 6)),
            ({"filters": 6, "kernel_size": (3, 2), "pool_size": 1, "activation": "relu"}, (3, 5, 5, 4), (3, 3, 4, 6)),
        ]
        for kwargs, input_shape, output_shape in cases:
            self.run_layer_test(
                ConvPool2D,
                init_kwargs=kwargs,
                input_shape=input_shape,
                expected_output_shape=output_shape,
                expected_num_trainable_weights=2,
                expected_num_non_trainable_weights=0,
                expected_num_losses=0,
                supports_masking=False,
            )

    def test_with_a_regularizer(self):
        self.run_layer_test(
            ConvPool2D,
            init_kwargs={"filters": 4, "kernel_size": 3, "pool_size": 2, "kernel_regularizer": "l2"},
            input_shape=(2, 8, 8, 2),
            expected_output_shape=(2, 3, 3, 4),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            expected_num_losses=1,
            supports_masking=False,
        )

    def test_ints_are_square_windows_as_for_conv2d(self):
        layer = ConvPool2D(20, kernel_size=5, pool_size=2)
        self.assertEqual(layer.kernel_size, (5, 5))
        self.assertEqual(layer.pool_size, (2, 2))
        self.assertEqual(layer.kernel_initializer.pool_size, (2, 2))  # network3's n_out: pool area 4
        self.assertEqual(layer.get_config()["kernel_size"], ConvPool2D(20, (5, 5), (2, 2)).get_config()["kernel_size"])
        self.assertEqual(tuple(layer(np.zeros((1, 28, 28, 1), "float32")).shape), (1, 12, 12, 20))

    def test_bad_windows_are_refused_as_conv2d_refuses_them(self):
        for kwargs in ({"kernel_size": (5, 5, 5)}, {"pool_size": 0}, {"kernel_size": "5"}):
            with self.assertRaises(ValueError):
                ConvPool2D(20, **kwargs)


class StepPairContract(testing.TestCase):
    def test_layer_contract(self):
        self.run_layer_test(
            StepPair,
            init_kwargs={"units": 4},
            input_shape=(2, 1),
            expected_output_shape=(2, 4),
            expected_num_trainable_weights=3,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )
        # Rank 3, as dense_test.py's second case: one bump per unit at every step.
        self.run_layer_test(
            StepPair,
            init_kwargs={
                "units": 5,
                "steepness": 50.0,
                "s1_initializer": "random_uniform",
                "height_initializer": "ones",
            },
            input_shape=(2, 3, 1),
            expected_output_shape=(2, 3, 5),
            expected_num_trainable_weights=3,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_compute_output_shape_keeps_the_leading_axes(self):
        layer = StepPair(7)
        self.assertEqual(layer.compute_output_shape((None, 1)), (None, 7))
        self.assertEqual(layer.compute_output_shape((None, 10, 1)), (None, 10, 7))
        self.assertEqual(layer.compute_output_shape((4, 2, 3, 1)), (4, 2, 3, 7))


class PerceptronContract(testing.TestCase):
    def test_layer_contract(self):
        # dense_test.py's two cases; the weights are set by hand, not learned (non-trainable).
        cases = [
            ({"units": 4, "kernel_initializer": "random_uniform", "bias_initializer": "ones"}, (2, 3), (2, 4)),
            ({"units": 5}, (2, 3, 4), (2, 3, 5)),
        ]
        for kwargs, input_shape, output_shape in cases:
            self.run_layer_test(
                Perceptron,
                init_kwargs=kwargs,
                input_shape=input_shape,
                expected_output_shape=output_shape,
                expected_num_trainable_weights=0,
                expected_num_non_trainable_weights=2,
                expected_num_seed_generators=0,
                expected_num_losses=0,
                supports_masking=True,
            )


class PixelShiftContract(testing.TestCase):
    def test_layer_contract(self):
        # random_translation_test.py's arguments (no training check: nothing to train),
        # then the same in training, where the shifts are drawn, with a channel axis.
        for input_shape, call_kwargs in (((2, 3, 4), None), ((2, 5, 5, 3), {"training": True})):
            self.run_layer_test(
                PixelShift,
                init_kwargs={"seed": 1337},
                input_shape=input_shape,
                call_kwargs=call_kwargs,
                expected_output_shape=input_shape,
                expected_num_trainable_weights=0,
                expected_num_non_trainable_weights=0,
                expected_num_seed_generators=1,
                expected_num_losses=0,
                supports_masking=True,
                run_training_check=False,
            )
