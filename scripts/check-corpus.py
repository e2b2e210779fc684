#!/usr/bin/env python3
"""Check the shape of the corpus in tests/corpus (not any generator): every text folder has
topic.json, an expert.txt of 6-12 concepts (1-3 for a title-only topic) that each occur in source.txt,
and a junk.txt of 5-15 strings from the source (3-15 for a title-only topic, whose
only text is its title: "The French Revolution" has just four junk fragments). Standard library only.

Usage: python3 scripts/check-corpus.py   (exit status 1 if anything is wrong)
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "corpus"
ARTICLES = {"the", "a", "an", "der", "die", "das", "den", "dem", "des", "ein", "eine",
            "le", "la", "les", "un", "une", "des", "du", "el", "los", "las", "unos", "unas"}


def norm(s):
    return re.sub(r"\s+", " ", s).strip().casefold()


def lines(path):
    text = path.read_text(encoding="utf-8")
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return out


def main():
    problems = []
    folders = sorted(p for p in ROOT.iterdir() if p.is_dir() and p.name != "LICENSES")
    readme = (ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else ""
    if not readme:
        problems.append("README.md missing")
    for n, folder in enumerate(folders, start=1):
        name = folder.name
        if not re.fullmatch(r"(0[1-9]|1[0-4])-[a-z0-9-]+", name):
            problems.append(f"{name}: folder name is not NN-slug")
        if f"`{name}`" not in readme and name not in readme:
            problems.append(f"{name}: not listed in README.md")
        try:
            topic = json.loads((folder / "topic.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{name}: topic.json unreadable: {e}")
            continue
        if set(topic) != {"title", "description"} or not all(isinstance(v, str) for v in topic.values()):
            problems.append(f"{name}: topic.json must have exactly string title and description")
        if not topic.get("title", "").strip():
            problems.append(f"{name}: empty title")
        src_path = folder / "source.txt"
        title_only = not src_path.exists()
        if title_only:
            haystack = topic.get("title", "") + "\n" + topic.get("description", "")
        else:
            haystack = src_path.read_text(encoding="utf-8")
            if not 2000 <= len(haystack) <= 25000:
                problems.append(f"{name}: source.txt has {len(haystack)} characters (2,000-25,000)")
        low, low_norm = haystack.casefold(), norm(haystack)
        for kind, lo, hi in (("expert", 1 if title_only else 6, 3 if title_only else 12), ("junk", 3 if title_only else 5, 15)):
            path = folder / f"{kind}.txt"
            if not path.exists():
                problems.append(f"{name}: {kind}.txt missing")
                continue
            items = lines(path)
            if not lo <= len(items) <= hi:
                problems.append(f"{name}: {kind}.txt has {len(items)} lines ({lo}-{hi})")
            seen = set()
            for item in items:
                if item != item.strip() or not item:
                    problems.append(f"{name}: {kind}.txt: blank line or stray whitespace: {item!r}")
                if item.casefold() in seen:
                    problems.append(f"{name}: {kind}.txt: duplicate {item!r}")
                seen.add(item.casefold())
                if item.casefold() in low:
                    continue
                if norm(item) in low_norm:
                    problems.append(f"{name}: {kind}.txt: {item!r} occurs only across a line break")
                else:
                    problems.append(f"{name}: {kind}.txt: {item!r} does not occur in the source")
            if kind == "expert":
                for item in items:
                    first = re.split(r"[\s']", item.casefold(), maxsplit=1)[0]
                    if first in ARTICLES or item.casefold().startswith(("l'", "d'")):
                        problems.append(f"{name}: expert.txt: {item!r} starts with an article")
        expert_set = {norm(x) for x in lines(folder / "expert.txt")} if (folder / "expert.txt").exists() else set()
        junk_set = {norm(x) for x in lines(folder / "junk.txt")} if (folder / "junk.txt").exists() else set()
        for both in sorted(expert_set & junk_set):
            problems.append(f"{name}: {both!r} is both an expert concept and junk")
        if title_only:
            print(f"{name}: title-only, {len(lines(folder / 'expert.txt'))} expert concepts")
        else:
            print(f"{name}: {len(haystack)} chars, {len(lines(folder / 'expert.txt'))} expert, "
                  f"{len(lines(folder / 'junk.txt'))} junk")
    if len(folders) < 12:
        problems.append(f"only {len(folders)} texts (at least 12)")
    for p in problems:
        print("PROBLEM:", p)
    print(f"{len(folders)} folders, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
