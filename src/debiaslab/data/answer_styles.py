"""A GSM8K answer rewritten in three surface styles, correct or with one consistent wrong step.

Input is a GSM8K-format answer: reasoning lines with `<<expr=value>>` calculator
annotations, ending in `#### N`. Styles, in RM-Bench's order of increasing styledness:
`concise` (the annotated equations and the answer), `detailed_plain` (every reasoning
line, plain text) and `detailed_markdown` (the same lines under headers, as
bold-labelled bullets). The incorrect answer has one wrong step: the operator of the step
that produces the final answer is swapped (+→−, −→+, ×→+, ÷→×; else the next operator
that keeps a non-negative integer), the step's arithmetic is done right for the wrong
operator, and the final number follows it, so the error is consistent. Without such a
step (no annotation yields the final number) the final number is shifted, and its last
mention in the reasoning with it. Deterministic given the RNG.

Kept apart from data/gsm8k.py (loading, response rows) and rm_forget's pairs and items
(experiments/rm_forget/data.py) because the testbed corpus renders these texts for the
tokenizer: only edits here retokenize the testbed.
"""

from __future__ import annotations

import ast
import operator
import random
import re
from dataclasses import dataclass

STYLES = ("concise", "detailed_plain", "detailed_markdown")
PLAIN_STYLES = ("concise", "detailed_plain")
MARKDOWN = "detailed_markdown"

Variant = tuple[str, bool]  # (style, correct)

ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
# The wrong operator tried first for each right one, then the rest in this order.
SWAP = {"+": "-", "-": "+", "*": "+", "/": "*"}
ORDER = ("+", "-", "*", "/")
SHIFTS = (1, 2, 3, 5, 10)


class AnswerError(ValueError):
    """A GSM8K answer that does not end in `#### N`."""


@dataclass(frozen=True)
class Solution:
    """A parsed GSM8K answer: reasoning lines (annotations kept) and the final number."""

    lines: tuple[str, ...]
    final: str


def parse_answer(answer: str) -> Solution:
    body, sep, final = answer.rpartition("####")
    final = final.strip().replace(",", "")
    if not sep or not NUMBER.fullmatch(final):
        raise AnswerError(f"answer does not end in '#### <number>': {answer[-60:]!r}")
    lines = tuple(line.strip() for line in body.strip().splitlines() if line.strip())
    return Solution(lines, final)


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "").rstrip("."))
    except ValueError:
        return None


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _evaluate(expr: str) -> float | None:
    """The value of an arithmetic expression of numbers and + - * / ( ), or None."""
    try:
        tree = ast.parse(expr.replace(",", ""), mode="eval")
    except SyntaxError:
        return None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
            if type(node.op) in ops:
                return OPERATORS[ops[type(node.op)]](ev(node.left), ev(node.right))
        raise ValueError

    try:
        return ev(tree)
    except (ValueError, ZeroDivisionError, RecursionError):
        return None


def _last_operator(expr: str) -> int | None:
    """Index of the last binary operator in `expr` (a leading or post-operator minus is a sign)."""
    for i in range(len(expr) - 1, 0, -1):
        if expr[i] in OPERATORS:
            before = expr[:i].rstrip()
            if before and before[-1] not in "+-*/(":
                return i
    return None


def _wrong_operation(expr: str, value: float) -> tuple[str, float] | None:
    """`expr` with its last operator swapped, and its value: a non-negative integer ≠ `value`."""
    i = _last_operator(expr)
    if i is None:
        return None
    right = expr[i]
    for op in (SWAP[right],) + tuple(o for o in ORDER if o not in (right, SWAP[right])):
        new_expr = expr[:i] + op + expr[i + 1 :]
        new_value = _evaluate(new_expr)
        if new_value is not None and new_value >= 0 and float(new_value).is_integer() and new_value != value:
            return new_expr, new_value
    return None


def _visible_expression(expr: str) -> re.Pattern:
    """The annotation's expression as the prose writes it: same tokens, any spacing."""
    tokens = re.findall(r"\d[\d,]*(?:\.\d+)?|[+\-*/()]", expr)
    return re.compile(r"\s*".join(re.escape(t) for t in tokens))


def make_incorrect(solution: Solution, rng: random.Random) -> tuple[Solution, str]:
    """A consistent wrong solution and how it was made ("operation" or "shift")."""
    final = _number(solution.final)
    for li in range(len(solution.lines) - 1, -1, -1):
        line = solution.lines[li]
        matches = list(ANNOTATION.finditer(line))
        for m in reversed(matches):
            expr, result = m.group(1), m.group(2)
            value = _number(result)
            if value is None or final is None or value != final:
                continue
            wrong = _wrong_operation(expr, value)
            if wrong is None:
                continue
            new_expr, new_value = wrong
            new_result = _format(new_value)
            before, after = line[: m.start()], line[m.end() :]
            # the prose's copy of the expression (last occurrence before the annotation)
            visible = list(_visible_expression(expr).finditer(before))
            if visible:
                v = visible[-1]
                text = v.group(0)
                j = _last_operator(text)
                text = text[:j] + new_expr[_last_operator(new_expr)] + text[j + 1 :] if j is not None else text
                before = before[: v.start()] + text + before[v.end() :]
            # the result as the prose states it right after the annotation
            after = re.sub(
                r"^\s*" + re.escape(result.strip()),
                lambda x: x.group(0).replace(result.strip(), new_result),  # noqa: B023 - re.sub calls it at once
                after,
                count=1,
            )
            lines = list(solution.lines)
            lines[li] = f"{before}<<{new_expr}={new_result}>>{after}"
            # later lines that repeat the old result now repeat the wrong one
            old = re.compile(rf"(?<![\d.]){re.escape(result.strip())}(?![\d])")
            for k in range(li + 1, len(lines)):
                lines[k] = old.sub(new_result, lines[k])
            return Solution(tuple(lines), new_result), "operation"
    # No annotated step yields the final number: shift the number and its last mention.
    shift = rng.choice(SHIFTS)
    new_final = _format((final or 0) + shift)
    lines = list(solution.lines)
    old = re.compile(rf"(?<![\d.]){re.escape(solution.final)}(?![\d])")
    for k in range(len(lines) - 1, -1, -1):
        if old.search(lines[k]):
            lines[k] = old.sub(new_final, lines[k])
            break
    return Solution(tuple(lines), new_final), "shift"


def strip_annotations(text: str) -> str:
    return ANNOTATION.sub("", text)


def render(solution: Solution, style: str) -> str:
    """One response in `style` (annotations removed; markdown only in `detailed_markdown`)."""
    steps = [strip_annotations(line) for line in solution.lines]
    if style == "concise":
        equations = [
            f"{m.group(1).strip()} = {m.group(2).strip()}" for line in solution.lines for m in ANNOTATION.finditer(line)
        ]
        return (", ".join(equations) + ". " if equations else "") + f"The answer is {solution.final}."
    if style == "detailed_plain":
        return "Let's solve this step by step.\n" + "\n".join(steps) + f"\nSo the answer is {solution.final}."
    if style == "detailed_markdown":
        bullets = "\n".join(f"- **Step {i}:** {step}" for i, step in enumerate(steps, start=1))
        return f"## Solution\n\n{bullets}\n\n### Final Answer\n\n**{solution.final}**"
    raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")


def variants(question: str, answer: str, rng: random.Random) -> list[dict]:
    """The six responses to one question: each style, correct and incorrect."""
    right = parse_answer(answer)
    wrong, how = make_incorrect(right, rng)
    rows = []
    for correct, solution in ((True, right), (False, wrong)):
        for style in STYLES:
            rows.append(
                {
                    "style": style,
                    "correct": correct,
                    "final": solution.final,
                    "response": render(solution, style),
                    "perturbation": "" if correct else how,
                }
            )
    return rows
