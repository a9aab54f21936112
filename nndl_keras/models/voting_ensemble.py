import keras
from keras import ops


def plurality_votes(ballots, classes):
    """The book's plurality vote over members' predicted classes, as vote counts.

    `ballots` lists each member's predicted class per example, earliest member
    first (integer arrays of one shape). Returns the vote count of each class
    per example, plus a tie-breaking fraction below one, so that `argmax` gives
    the class with most votes and, on a tie, the one the earliest member voted
    for, as the book's `Counter(votes).most_common(1)` does.

    Example:

    >>> import numpy as np
    >>> ballots = [np.array([2, 0]), np.array([1, 0]), np.array([1, 2])]  # three members, two examples
    >>> np.argmax(np.asarray(plurality_votes(ballots, classes=3)), axis=-1).tolist()  # 2 votes for 1; a tie to 0
    [1, 0]
    """
    votes = 0.0
    for k, ballot in enumerate(ballots):
        # A vote counts 1; the k-th member's also carries 0.25·2^-k, which summed
        # over all members stays under one and so only ever breaks ties.
        votes = votes + ops.one_hot(ballot, classes) * (1.0 + 0.25 * 2.0**-k)
    return votes


@keras.saving.register_keras_serializable(package="nndl_keras")
class VotingEnsemble(keras.Model):
    """Several trained classifiers combined, as chapter 6 combines five nets.

    With `voting="plurality"` (the book's way) each member votes for its most
    probable class and the class with the most votes wins; a tie goes to the
    class voted for by the earliest member, as the book's `Counter.most_common`
    does. The output is the vote count per class (plus a tie-breaking fraction
    below one), so `argmax` gives the winner and Keras's accuracy metrics apply.
    With `voting="mean"` the output is the members' mean probability.

    Args:
        members: the trained Keras models, all with the same input and
            class-probability output.
        voting: `"plurality"` or `"mean"`.
        **kwargs: base `Model` arguments (`name`, ...).

    Example:

    >>> import numpy as np, keras
    >>> def member(bias):
    ...     m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    ...     m.set_weights([np.zeros((2, 3)), np.array(bias, "float32")])
    ...     return m
    >>> vote = VotingEnsemble([member([0, 1, 0]), member([0, 1, 0]), member([1, 0, 0])])
    >>> int(np.argmax(vote.predict(np.zeros((1, 2)), verbose=0)))
    1
    """

    def __init__(self, members, voting="plurality", **kwargs):
        super().__init__(**kwargs)
        if voting not in ("plurality", "mean"):
            raise ValueError(f"voting must be 'plurality' or 'mean', got {voting!r}")
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        self.voting = voting

    def call(self, inputs, training=False):
        outputs = [member(inputs, training=training) for member in self.members]
        if self.voting == "mean":
            return ops.mean(ops.stack(outputs), axis=0)
        ballots = [ops.argmax(probabilities, axis=-1) for probabilities in outputs]
        return ops.cast(plurality_votes(ballots, outputs[0].shape[-1]), outputs[0].dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"members": [keras.saving.serialize_keras_object(m) for m in self.members], "voting": self.voting}
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)  # the caller's config stays as it was
        members = [keras.saving.deserialize_keras_object(m) for m in config.pop("members")]
        return cls(members, **config)
