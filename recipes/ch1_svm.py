"""Chapter 1's support vector machine baseline (needs the `svm` extra: scikit-learn)."""

from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

SCIKIT_LEARN = (("sklearn", "scikit-learn: pip install 'nndl-keras[svm]'"),)


def support_vector_machine(x, y, hp):
    """mnist_svm.py: `svm.SVC()` with the defaults of the scikit-learn the book used.

    scikit-learn 0.22 changed SVC's default gamma from 1/n_features ('auto') to
    'scale'; the book's 94.35% was measured with 'auto', so that is the default here.
    """
    from sklearn import svm  # the recipe `requires` it: run and reproduce check before training

    low, high = hp.options.get("pixel_range", (0, 1))

    def scaled(images):  # pixels in [0, 1] (or uint8) to the range the parameters were searched on
        images = images.astype("float32") / 255 if images.dtype == "uint8" else images
        return low + (high - low) * images

    classifier = svm.SVC(C=hp.options["C"], gamma=hp.options["gamma"], kernel="rbf")
    classifier.fit(scaled(x), y)
    return lambda images: classifier.predict(scaled(images))


register(
    Recipe(
        name="ch1-svm",
        chapter=1,
        description="scikit-learn SVC with the book-era defaults (RBF, C=1, gamma=1/784); slow",
        hparams=Hyperparameters(layers=(), epochs=1, train_size=50_000, options={"C": 1.0, "gamma": "auto"}),
        book=BookResult(0.9435, split="test", at="final", source="ch1-svm"),
        baseline=support_vector_machine,
        requires=SCIKIT_LEARN,
    )
)

# Chapter 1: "it's possible to get the performance up above 98.5 percent accuracy"
# by optimising the SVM's parameters, citing Andreas Mueller's grid search
# ("MNIST for ever...", peekaboo-vision.blogspot.com, September 2010). His best
# RBF parameters on pixels in [0, 1], as quoted in code that reproduces it:
# C = 2^1.5 ≈ 2.83 and gamma = 2^-7.1 ≈ 0.00729. Not the book's own run.
register(
    Recipe(
        name="ch1-svm-tuned",
        chapter=1,
        description="SVC with Andreas Mueller's grid-searched RBF parameters (C=2.83, gamma=0.00729); slow",
        hparams=Hyperparameters(
            layers=(), epochs=1, train_size=50_000, options={"C": 2.82842712475, "gamma": 0.00728932024638}
        ),
        book=BookResult(0.985, split="test", at="final", source="literature: tuned SVM (Andreas Mueller), over 98.5%"),
        baseline=support_vector_machine,
        requires=SCIKIT_LEARN,
    )
)

# Why 97.80% and not 98.5%, the hypothesis: an RBF kernel's gamma belongs to the pixel
# scale it was searched on, and a search with libsvm's svm-scale (its default range is
# [-1, 1]: twice the distances, four times ||x - x'||^2) would have found these values
# for a narrower kernel than they make on [0, 1]. benchmarks/svm_tuned_cause.py measured
# the two ranges side by side on a subset (docs/results/chapter-1/ch1-svm-tuned-cause.json);
# this is the full run.
register(
    Recipe(
        name="ch1-svm-tuned-scaled",
        chapter=1,
        description="ch1-svm-tuned on pixels scaled to [-1, 1] (libsvm's svm-scale default): the cause of its shortfall; slow",
        hparams=Hyperparameters(
            layers=(), epochs=1, train_size=50_000,
            options={"C": 2.82842712475, "gamma": 0.00728932024638, "pixel_range": [-1, 1]},
        ),
        book=BookResult(0.985, split="test", at="final", source="literature: tuned SVM (Andreas Mueller), over 98.5%"),
        baseline=support_vector_machine,
        requires=SCIKIT_LEARN,
    )
)
