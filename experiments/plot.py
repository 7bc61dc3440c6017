"""Redraw a run's figures from its results folder, byte for byte, without training.

Reads FOLDER/results.json (and, for linear and sine, curves.npz and losses.npz beside it) and
draws the figures the run drew, from the same arrays by the same code (`experiments._figures`).
"""

import json

from experiments import _cli, _figures


def main(argv=None):
    """Redraws the figures; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("plot") as end:
        p = _cli.parser("plot", __doc__, "Writes the run's figures into FOLDER, replacing them"
                        " together once all are drawn.")
        p.add_argument("folder", type=_cli.out_path, metavar="FOLDER",
                       help="a results folder: the --out of linear, sine or sweep")
        folder = p.parse_args(argv).folder
        try:
            results = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError):
            results = None
        if not isinstance(results, dict) or results.get("experiment") not in _figures.DRAWN:
            p.error(f"{folder}: no results.json of {', '.join(_figures.DRAWN)} there")
        with _cli.Staged(folder) as out:
            _figures.draw(out, folder, results)
            out.publish()
    return end.status


if __name__ == "__main__":
    _cli.script(main)
