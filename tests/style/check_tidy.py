#!/usr/bin/env python3
"""A small tidy check over the C++ sources (TigerBeetle's tidy.zig, in small).

1. Function length: no function body over FUNCTION_LINES_MAX lines (STYLE.md:
   "functions short enough to see whole, about 70 lines"), counted from the
   line of its opening brace to the line of its closing one. Lambdas count in
   the function that holds them. Exceptions are listed in GRANDFATHERED, by
   file and function name, with their length today: they may shrink, not grow.
2. Unused declarations: a function, method, type or constant declared in a
   header of the libraries (include/, protocol/, storage/, server/,
   client-lib/) whose name appears nowhere in the tree but at its declaration
   and definition. By name, so a name shared with a used one passes: it
   catches what nothing calls, not every dead overload.

Fails naming file:line. Reads the sources only (no build), in about a second.
"""
import os
import re
import sys
from collections import Counter

FUNCTION_LINES_MAX = 70
SOURCE_FOLDERS = ["include", "protocol", "storage", "server", "client-lib", "tools", "bench", "tests"]
LIBRARY_FOLDERS = ["include", "protocol", "storage", "server", "client-lib"]
# (path, function name): lines today. Shrink them and lower the number, or drop the entry.
# None today: the last six were split on 2026-12-03.
GRANDFATHERED = {}
# Declared for a caller the script cannot see (a framework, the standard library).
USED_ELSEWHERE = {"is_transparent"}  # heterogeneous lookup of the standard and absl containers

KEYWORDS_BEFORE_PAREN = {"if", "for", "while", "switch", "catch", "return", "sizeof", "alignof",
                         "decltype", "static_assert", "noexcept", "requires", "alignas"}


def sources(folders, suffixes=(".cc", ".h")):
    for folder in folders:
        for base, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(suffixes):
                    yield os.path.join(base, name)


def blank_out(text):
    """Comments, string and character literals become spaces; newlines stay."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator: 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + (c if j < n else ""))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_preprocessor(text):
    return re.sub(r"^[ \t]*#.*(?:\\\n.*)*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                  flags=re.M)


def function_name(head):  # "TEST(Suite, Name)" for a test, else the plain name
    """The name of the function whose body follows `head`, or None."""
    head = head.strip()
    # Constructor initializer lists: cut at the first ':' outside '::' after the parameters.
    depth = 0
    close = -1
    for k, ch in enumerate(head):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                close = k
                break
    if close < 0:
        return None
    before = head[: head.find("(")] if "(" in head else ""
    if "=" in before.replace("operator=", "").replace("==", ""):
        return None  # an initializer: int x = f(...) {...}
    m = re.search(r"(operator\s*[^\s(]+|~?[A-Za-z_]\w*)\s*$", before)
    if not m or m.group(1) in KEYWORDS_BEFORE_PAREN:
        return None
    if re.search(r"\b(class|struct|union|enum|namespace)\b", before) and "::" not in before:
        return None
    if m.group(1).startswith("TEST"):  # GoogleTest: the test's own name
        return m.group(1) + "(" + " ".join(head[head.find("(") + 1:close].split()) + ")"
    return m.group(1)


def function_lengths(path):
    text = without_preprocessor(blank_out(open(path, encoding="utf-8").read()))
    stack = []  # kinds of the open braces: "scope", "function", "block"
    start = 0  # where the current declaration's text began
    results = []
    line = 1
    pending_init = False  # inside a constructor's initializer list, after its ':'
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        if ch in ";":
            if not stack or stack[-1][0] == "scope":
                start = i + 1
        elif ch == "{":
            in_body = any(kind == "function" for kind, _, _ in stack)
            if in_body:
                stack.append(("block", line, None))
                continue
            head = text[start:i]
            name = function_name(head)
            if name and re.search(r"\)\s*:(?!:)", head) and re.search(r"[\w>]\s*$", head) \
                    and not re.search(r"\)\s*(const|noexcept|override|final|mutable|\s)*$", head):
                stack.append(("block", line, None))  # a member's brace initializer
            elif name:
                stack.append(("function", line, name))
            elif re.search(r"=\s*$|\breturn\b|[(,]\s*$", head) or (stack and stack[-1][0] == "block"):
                stack.append(("block", line, None))
            else:
                stack.append(("scope", line, None))
                start = i + 1
        elif ch == "}":
            if not stack:
                continue
            kind, first, name = stack.pop()
            if kind == "function":
                results.append((name, first, line - first + 1))
            if kind != "block" and (not stack or stack[-1][0] == "scope"):
                start = i + 1
    return results


def check_lengths():
    failures = []
    for path in sources(SOURCE_FOLDERS):
        for name, first, lines in function_lengths(path):
            allowed = GRANDFATHERED.get((path, name), FUNCTION_LINES_MAX)
            if lines > allowed:
                failures.append(f"{path}:{first}: {name} is {lines} lines, over {allowed} "
                                f"(FUNCTION_LINES_MAX {FUNCTION_LINES_MAX}): split it")
    return failures


DECLARATION = re.compile(
    r"^\s*(?!(?:return|else|case|throw|new|delete|co_return|goto)\b)"
    r"(?:(?:static|inline|constexpr|virtual|explicit|friend|extern|\[\[[^\]]*\]\])\s+)*"
    r"(?:(?P<type_kind>class|struct|enum class|enum|using)\s+(?P<type>[A-Za-z_]\w*)"
    r"|(?:const\s+)?[\w:<>,]*\w[\w:<>,]*[\s*&]+(?:\w+::)*(?P<function>[A-Za-z_]\w*)\s*\("
    r"|(?:inline\s+)?constexpr\s+[\w:<>]+\s+(?P<constant>[A-Za-z_]\w*)\s*=)")


def declarations(path):
    """(name, line) of what each line declares or defines, by its first name."""
    text = without_preprocessor(blank_out(open(path, encoding="utf-8").read()))
    for number, line in enumerate(text.split("\n"), 1):
        m = DECLARATION.match(line)
        if not m:
            continue
        name = m.group("type") or m.group("function") or m.group("constant")
        if name and name not in KEYWORDS_BEFORE_PAREN and not name.startswith("operator"):
            yield name, number


def check_unused():
    """Names declared in the libraries' headers that nothing but declarations mention."""
    mentions, declared = Counter(), Counter()
    for path in sources(SOURCE_FOLDERS):
        mentions.update(re.findall(r"[A-Za-z_]\w*", blank_out(open(path, encoding="utf-8").read())))
        declared.update(name for name, _ in declarations(path))
    failures = []
    for path in sources(LIBRARY_FOLDERS, (".h",)):
        for name, number in declarations(path):
            if mentions[name] <= declared[name] and name not in USED_ELSEWHERE:
                failures.append(f"{path}:{number}: '{name}' is declared but used nowhere in the "
                                f"tree: remove it")
    return failures


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    os.chdir(root)
    failures = check_lengths() + check_unused()
    for failure in failures:
        print(failure)
    if failures:
        print(f"check_tidy: {len(failures)} problems", file=sys.stderr)
        return 1
    print("check_tidy: function lengths and declarations are tidy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
