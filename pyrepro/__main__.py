"""python -m pyrepro: run one case, or list what there is.

    python -m pyrepro run <scenario> <variant>   one verdict record on stdout
    python -m pyrepro list [--json]              scenarios and their variants

Exit codes: 0 a record was printed, 2 usage error.
"""

import sys

from pyrepro import SCENARIOS, runner

USAGE = __doc__.strip().splitlines()[2:4]


def main(argv):
    if len(argv) == 3 and argv[0] == "run":
        try:
            line = runner.run_case_json(argv[1], argv[2])
        except runner.UsageError as e:
            sys.stderr.write("pyrepro: %s\n" % e)
            return 2
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return 0
    if argv[:1] == ["list"] and argv[1:] in ([], ["--json"]):
        table = dict((s, list(runner.load(s).VARIANTS)) for s in sorted(SCENARIOS))
        if argv[1:]:
            from pyrepro.record import dumps
            print(dumps(table))
        else:
            for scenario, variants in table.items():
                print("%-20s %s" % (scenario, " ".join(variants)))
        return 0
    sys.stderr.write("usage:\n%s\n" % "\n".join(USAGE))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
