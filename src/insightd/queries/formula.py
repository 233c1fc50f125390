"""Trends formulas (``A/B*100``): letters are series by position; x/0 and x%0 are 0 (spec §2.8)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Sequence

from insightd.errors import QueryError

Number = float
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b != 0 else 0.0,
    ast.Mod: lambda a, b: a % b if b != 0 else 0.0,
    ast.Pow: lambda a, b: float(a**b),
}


def parse_formula(formula: str, series_count: int) -> ast.expr:
    try:
        tree = ast.parse(formula.strip().lower(), mode="eval")
    except SyntaxError as exc:
        raise QueryError(f"Invalid formula {formula!r}: {exc.msg}.") from exc
    for node in ast.walk(tree.body):
        if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY:
            raise QueryError(f"Operator {type(node.op).__name__} not supported in formula {formula!r}.")
        if isinstance(node, ast.Name):
            index = ord(node.id[0]) - ord("a") if len(node.id) == 1 else -1
            if not 0 <= index < series_count:
                raise QueryError(f"Formula {formula!r} refers to {node.id.upper()}, which is not a series.")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise QueryError(f"Constant {node.value!r} not supported in formula {formula!r}.")
        elif not isinstance(node, ast.BinOp | ast.UnaryOp | ast.operator | ast.unaryop | ast.Load):
            raise QueryError(f"Formula {formula!r} may only use series letters, numbers and + - * / % **.")
    return tree.body


def evaluate(node: ast.expr, values: Sequence[float]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(values[ord(node.id) - ord("a")])
    if isinstance(node, ast.UnaryOp):
        inner = evaluate(node.operand, values)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        try:
            return _BINARY[type(node.op)](evaluate(node.left, values), evaluate(node.right, values))
        except OverflowError as exc:
            raise QueryError("The formula's result is too large.") from exc
    raise QueryError("Unsupported formula element.")
