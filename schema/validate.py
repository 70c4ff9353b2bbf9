#!/usr/bin/env python3
"""Validate rackswarm YAML files against schema/rackswarm.schema.json.

Usage: validate.py FILE... -> prints one JSON object: {"FILE": ["error", ...], ...}; exit 0 unless it crashes.
YAML is read with PyYAML (YAML 1.1 rules, like most tools operators use); every document is checked on its own.
"""
import json
import os
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def main(paths):
    with open(os.path.join(HERE, "rackswarm.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    report = {}
    for path in paths:
        errors = []
        try:
            with open(path) as f:
                for index, document in enumerate(yaml.safe_load_all(f)):
                    if document is None:
                        continue
                    for error in validator.iter_errors(document):
                        where = "/".join(str(p) for p in error.absolute_path)
                        errors.append(f"document {index + 1}: {where}: {error.message}")
        except yaml.YAMLError as error:
            errors.append(f"YAML: {error}")
        report[path] = errors
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
