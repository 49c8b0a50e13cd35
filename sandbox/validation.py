"""Field checks shared by the provider modules; each provider renders `Invalid` in its own error shape."""

from __future__ import annotations


class Invalid(Exception):
    """A request field is unknown, missing, wrong-typed or out of range.

    `reason` is one of "unknown", "missing", "type", "enum", "range", "unsupported", "conflict".
    """

    def __init__(self, field: str, reason: str, message: str):
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message


def check_keys(obj: dict, allowed, where: str = "") -> None:
    for key in obj:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise Invalid(name, "unknown", f"property {name} should not exist")


def require(obj: dict, key: str, where: str = ""):
    name = f"{where}.{key}" if where else key
    if key not in obj or obj[key] is None:
        raise Invalid(name, "missing", f"{name} is required")
    return obj[key]


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_type(value, name: str, kind: str):
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "number": is_number(value),
        "int": is_int(value),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }[kind]
    if not ok:
        raise Invalid(name, "type", f"{name} must be a {kind}")
    return value


def check_enum(value, name: str, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(name, "enum", f"{name} must be one of: {', '.join(allowed)}")
    return value


def check_range(value, name: str, lo=None, hi=None, integer: bool = False):
    check_type(value, name, "int" if integer else "number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise Invalid(name, "range", f"{name} must be between {lo} and {hi}")
    return value


def check_point(value, name: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value)):
        raise Invalid(name, "type", f"{name} must be an array of two numbers [x, y]")
    return float(value[0]), float(value[1])


def check_boxes(value, name: str) -> list:
    if not isinstance(value, list):
        raise Invalid(name, "type", f"{name} must be an array of [x1, y1, x2, y2] or null")
    for i, box in enumerate(value):
        if box is None:
            continue
        if not (isinstance(box, list) and len(box) == 4 and all(is_number(v) for v in box)):
            raise Invalid(f"{name}[{i}]", "type", f"{name}[{i}] must be [x1, y1, x2, y2] or null")
    return value
