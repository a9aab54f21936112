"""`nndl-keras`: list, show, run and reproduce the book's recipes.

The CLI only parses arguments and calls the Python API (`nndl_keras.recipes`,
`nndl_keras.run`, `nndl_keras.reproduce`). Every error that is the user's to fix
prints one line and exits with status 2.
"""

import signal
import sys

import click

from nndl_keras import _startup
from nndl_keras.errors import NNDLError
from nndl_keras.stopping import StopRequest

USAGE_ERROR = 2


class _OneLineErrors(click.Group):
    """A click group whose errors are one line on stderr and exit status 2; a run stopped by
    SIGINT or SIGTERM (`nndl_keras.stopping`, installed for the command's life) ends with
    its one line and 128 + the signal's number, as shells report it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:  # answered here: click would make it a bare Abort
            _fail(str(e) or "interrupted", 128 + getattr(e, "signum", signal.SIGINT))

    def main(self, args=None, prog_name=None, **kwargs):
        _startup.QUIET = True
        with StopRequest():
            try:
                result = super().main(args, prog_name, standalone_mode=False, **kwargs)
            except click.exceptions.NoArgsIsHelpError as e:
                click.echo(e.ctx.get_help())
                sys.exit(0)
            except click.exceptions.Exit as e:
                sys.exit(e.exit_code)
            except click.Abort as e:  # a signal while click parsed the arguments
                _fail("interrupted", 128 + getattr(e.__context__, "signum", signal.SIGINT))
            except click.ClickException as e:
                _fail(e.format_message().splitlines()[0], USAGE_ERROR)
            except NNDLError as e:
                _fail(str(e), e.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message, code):
    click.echo(f"nndl-keras: error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nndl-keras")
def main():
    """The book's models as verified Keras recipes."""


@main.command("list")
@click.option("--chapter", type=int, help="Only this chapter's recipes.")
def list_command(chapter):
    """List the recipes with the book's results."""
    from nndl_keras import recipes

    found = recipes.catalog(chapter)
    if not found:
        chapters = sorted({r["chapter"] for r in recipes.catalog()})
        raise NNDLError(f"no recipes for chapter {chapter}; the chapters with recipes: {', '.join(map(str, chapters))}")
    width = max(len(r["name"]) for r in found)
    book = max(len("book result"), *(len(r["book"]) for r in found))
    click.echo(f"{'name':<{width}}  ch  {'book result':<{book}}  description")
    for r in found:
        click.echo(f"{r['name']:<{width}}  {r['chapter']:>2}  {r['book']:<{book}}  {r['description']}")


@main.command()
@click.argument("name")
def show(name):
    """Show a recipe's hyperparameters and the book's result."""
    from nndl_keras import book, recipes

    recipes.check_name(name)
    (recipe,) = [r for r in recipes.catalog() if r["name"] == name]
    click.echo(f"{recipe['name']} (chapter {recipe['chapter']}): {recipe['description']}")
    click.echo(f"book: {recipe['book']}")
    row = book.experiment(recipe["source"])
    if row is not None:  # the shipped table of the book's experiments (nndl_keras/book_data/EXPERIMENTS.md)
        click.echo(f"  the book's experiment {row['Id']}: {row['result']}")
    for key, value in recipe["hyperparameters"].items():
        click.echo(f"  {key:<18} {value}")


def _training_options(command):
    """The options `run` and `reproduce` share; all but --quiet reach `nndl_keras.run` as they are named."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False), help="MNIST directory (else $NNDL_KERAS_DATA_DIR, else tensorflow-datasets)."),
        click.option("--allow-unverified", is_flag=True, help="Use MNIST files whose SHA-256 is not MNIST's."),
        click.option("--seed", type=int, help="Seed for weights, shuffling and dropout  [default: 0]."),
        click.option("--engine", type=click.Choice(["auto", "fused", "distributed", "fit", "stacked"]), help="How epochs run: compiled loops, train_step under tf.distribute, model.fit, or an ensemble's members side by side (JAX)  [default: auto]."),
        click.option("--device", type=click.Choice(["auto", "cpu", "gpu", "tpu"]), help="Where to train; gpu/tpu distribute over all local ones  [default: auto]."),
        click.option("--precision", type=click.Choice(["float32", "bfloat16"]), help="bfloat16: mixed precision for GPUs and TPUs  [default: float32]."),
        click.option("--steps-per-execution", type=int, help="Mini-batches per compiled call for the fit and distributed engines  [default: 1, 100 distributed]."),
        click.option("--tensorboard", is_flag=True, help="Also write TensorBoard logs to OUTPUT_DIR/tensorboard."),
        click.option("--quiet", is_flag=True, help="No progress output."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@click.argument("name")
@click.option("--epochs", type=int, help="Override the book's number of epochs.")
@click.option("--batch-size", type=int, help="Override the mini-batch size m.")
@click.option("--eta", type=float, help="Override the learning rate η.")
@click.option("--lmbda", type=float, help="Override the L2 strength λ.")
@click.option("--train-size", type=int, help="Train on the first N training images.")
@click.option("--dropout-style", type=click.Choice(["book", "inverted"]), help="network3's dropout, or Keras's inverted Dropout.")
@click.option("--members", type=int, help="Ensembles: how many members (the book: 5).")
@click.option("--member", type=int, help="Ensembles: train only member K (seed SEED+K-1); combine such runs with `vote`.")
@click.option("--model-path", type=click.Path(exists=True, dir_okay=False), help="ch6-adversarial: attack this saved .keras classifier instead of training the two nets.")
@click.option("--runs", type=int, help="Train N times (seeds SEED..SEED+N-1), keep the best on validation (default: as the book).")
@click.option("--output-dir", type=click.Path(), help="Where to write (default: runs/NAME-TIME).")
@click.option("--overwrite", is_flag=True, help="Start again in an output directory that holds a run.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --output-dir from its last epoch.")
@_training_options
def run(name, epochs, batch_size, eta, lmbda, train_size, dropout_style, members, member, model_path, runs, output_dir, overwrite, resume, quiet, **training):
    """Train NAME with the book's hyperparameters and write metrics, model and plot."""
    import nndl_keras
    from nndl_keras import recipes
    from nndl_keras.errors import Diverged

    recipes.check_name(name)  # before Keras is imported: a mistyped name is answered at once
    _startup.import_keras()  # the parts register as it loads

    # **training: the options shared with `reproduce`, named as nndl_keras.run names them.
    result = nndl_keras.run(
        name,
        output_dir=output_dir,
        overwrite=overwrite,
        resume=resume,
        runs=runs,
        verbose=0 if quiet else 1,
        epochs=epochs,
        batch_size=batch_size,
        eta=eta,
        lmbda=lmbda,
        train_size=train_size,
        dropout_style=dropout_style,
        members=members,
        member=member,
        model_path=model_path,
        **training,
    )
    diverged = result.metrics.get("diverged")
    if diverged:
        raise Diverged(
            f"{name} diverged at epoch {diverged['epoch']} (cost {diverged['cost']}); "
            f"the model before it is in {result.output_dir}"
        )


@main.command()
@click.option("--chapter", type=int, help="Only this chapter's recipes.")
@click.option("--only", multiple=True, help="Only these recipes (repeatable).")
@click.option("--exclude", multiple=True, help="Skip these recipes (repeatable).")
@click.option("--epochs-scale", type=float, default=1.0, show_default=True, help="Multiply every recipe's epochs (at least 1).")
@click.option("--output-dir", type=click.Path(), help="Where to write (default: runs/reproduce-TIME).")
@_training_options
def reproduce(chapter, only, exclude, epochs_scale, output_dir, quiet, **training):
    """Run the registered recipes and tabulate book against measured."""
    _startup.import_keras()  # the parts register as it loads
    from nndl_keras.reproduce import reproduce as reproduce_all

    report = reproduce_all(
        chapter=chapter,
        only=only,
        exclude=exclude,
        epochs_scale=epochs_scale,
        output_dir=output_dir,
        verbose=0 if quiet else 1,
        **training,
    )
    click.echo(report.markdown)


@main.command()
@click.option("--results-dir", type=click.Path(), default="docs/results", show_default=True, help="The records to read.")
@click.option("--page", type=click.Path(), default="docs/results.md", show_default=True, help="The results page to write (its CSV beside it).")
@click.option("--readme", type=click.Path(), default="README.md", show_default=True, help="The README whose results table to regenerate.")
def report(results_dir, page, readme):
    """Tabulate every record: the results page, its CSV and the README's table, from docs/results."""
    from nndl_keras import recipes
    from nndl_keras.results import write_report

    table, written = write_report(recipes.list_recipes(), results_dir, page, readme)
    recorded = sum(1 for row in table if row.record)
    click.echo(f"{recorded} of {len(table)} recipes have a full-length record; wrote {', '.join(map(str, written))}")


@main.command()
@click.argument("member_runs", nargs=-1, required=True, type=click.Path())
@click.option("--output-dir", type=click.Path(), required=True, help="Where to write vote.json and ensemble_errors.png.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="MNIST directory (else $NNDL_KERAS_DATA_DIR, else tensorflow-datasets).")
@click.option("--subsets", type=int, help="Instead, vote every subset of this many members (and each alone): subsets.json, single_nets.json.")
def vote(member_runs, output_dir, data_dir, subsets):
    """Combine ensemble members trained as separate runs (`run ch6-ensemble --member K`) by the book's vote."""
    _startup.import_keras()  # the parts register as it loads
    from nndl_keras.recipes.ch6_ensemble import subset_votes
    from nndl_keras.recipes.ch6_ensemble import vote as vote_members

    if subsets is not None:
        subset_votes(member_runs, output_dir, size=subsets, data_dir=data_dir)
    else:
        vote_members(member_runs, output_dir, data_dir=data_dir)


if __name__ == "__main__":
    main()
