"""Checks shared by the YAML formats edgeprof reads (profiles, the manifest).

A table maps each field to ``(type, required)``; a check names the first wrong field with its
full path (``runs[2].latency_ms.median``) and the file, in one line.
"""

NUMBER = (int, float)
_TYPE_NAMES = {str: "a string", int: "an integer", NUMBER: "a number", bool: "true/false",
               dict: "a mapping", list: "a list"}


def type_ok(value, expected):
    """``isinstance`` where booleans do not count as numbers."""
    if expected is NUMBER or expected is int:
        return isinstance(value, expected) and not isinstance(value, bool)
    return isinstance(value, expected)


def check_fields(mapping, table, where, source, error):
    """Raise ``error`` for the first field of ``table`` that is missing (when required) or of the wrong type."""
    for field, (expected, required) in sorted(table.items()):
        name = "%s.%s" % (where, field) if where else field
        value = mapping.get(field)
        if value is None:
            if required:
                raise error("%s: field %r is missing" % (source, name))
            continue
        if not type_ok(value, expected):
            raise error("%s: field %r must be %s, got %s %r"
                        % (source, name, _TYPE_NAMES[expected], type(value).__name__, value))


def check_version(data, source, schema, kind, error):
    """Refuse a file that is not of ``kind`` or whose major version differs from ``schema``'s.

    Args:
        schema (str): the version this edgeprof reads, e.g. ``edgeprof/profile/v1``.
        kind (str): what the file should be, for the message ("profile", "manifest").
    """
    prefix, _, major = schema.rpartition("/v")
    prefix += "/v"
    found = data.get("schema")
    if not isinstance(found, str) or not found.startswith(prefix):
        raise error("%s: not an edgeprof %s (field 'schema' is %r, expected %r)" % (source, kind, found, schema))
    if found[len(prefix):].split(".")[0] != major:
        raise error("%s: %s schema %r is not supported by edgeprof (it reads %r); upgrade edgeprof to read it"
                    % (source, kind, found, schema))
