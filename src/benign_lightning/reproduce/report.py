"""The report of one reproduction, in ``<out>/<figure>/<scale>/``: ``REPORT.md`` (GitHub renders
it), ``report.html`` (one file, figures embedded), ``claims.json`` and ``summary.csv``."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import platform
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benign_lightning.plumbing.io import atomic_write_json, atomic_write_text
from benign_lightning.reproduce.entry import Claim, Entry
from benign_lightning.reproduce.results import NoRuns, Results, TooFew
from benign_lightning.reproduce.runner import command, sweep_dir

HOLDS, FAILS, NOT_RUN = "holds", "does not hold", "not run"
NOT_JUDGED, TOO_FEW = "not judged", "too few to judge"
# aggregate's figures (curves.png: the per-epoch curves) and detect's
FIGURES = ("err_vs_*.png", "adv_err_vs_eps.png", "decision_regions.png", "curves.png", "pr_*.png")


@dataclass
class Verdict:
    id: str
    source: str
    paper: str
    ours: str
    verdict: str


def check_claims(
    entry: Entry, results: Results | None, not_run: str | None, scale: str | None = None
) -> list[Verdict]:
    """Each claim's verdict; without results (``not_run`` says why) every claim is not run. A
    per-seed claim on runs of several seeds is judged seed by seed: "holds" on all of them,
    "holds on k of n seeds", or "does not hold" on none."""
    out = []
    for claim in entry.claims:
        if results is None:
            out.append(Verdict(claim.id, claim.source, claim.paper, "", f"{NOT_RUN}: {not_run}"))
            continue
        if scale is not None and claim.scales is not None and scale not in claim.scales:
            # Not judged, but the numbers are still shown: a reader sees what the scale measured.
            ours = _judge(claim, results)[0]
            verdict = f"{NOT_JUDGED} at the {scale} scale: {claim.regime}"
            out.append(Verdict(claim.id, claim.source, claim.paper, ours, verdict))
            continue
        seeds = results.seeds()
        if claim.per_seed and len(seeds) > 1:
            ours, verdict = _per_seed(claim, results, seeds)
        else:
            ours, verdict = _judge(claim, results)
        out.append(Verdict(claim.id, claim.source, claim.paper, ours, verdict))
    return out


def _judge(claim: Claim, results: Results) -> tuple[str, str]:
    """``(ours, verdict)`` of one check on ``results``."""
    try:
        ours, holds = claim.check(results)
    except TooFew as e:
        return "", f"{TOO_FEW}: {e}"
    except NoRuns as e:
        return "", f"{NOT_RUN}: {e}"
    except (KeyError, TypeError, ValueError, IndexError) as e:  # results without what the check reads
        return "", f"{NOT_RUN}: the check could not read the results ({type(e).__name__}: {e})"
    return ours, HOLDS if holds else FAILS


def _per_seed(claim: Claim, results: Results, seeds: list[int]) -> tuple[str, str]:
    judged = [(seed, *_judge(claim, results.only_seed(seed))) for seed in seeds]
    ours = "; ".join(f"seed {seed}: {text or verdict}" for seed, text, verdict in judged)
    verdicts = [verdict for _, _, verdict in judged if verdict in (HOLDS, FAILS)]
    held, n = verdicts.count(HOLDS), len(verdicts)
    if n == 0:
        return ours, judged[0][2]  # not run on any seed: the first seed's reason
    if held == n:
        return ours, HOLDS if n == len(seeds) else f"{HOLDS} on {held} of {n} seeds (the others not run)"
    return ours, FAILS if held == 0 else f"{HOLDS} on {held} of {n} seeds"


def tally(verdicts: list[Verdict]) -> str:
    """How the claims came out, one count per kind ("2 hold, 1 does not hold, 3 not run"): a claim
    that was not run or not judged is counted as such, never as holding or failing."""
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[_kind(v.verdict)] = counts.get(_kind(v.verdict), 0) + 1
    order = ("hold", "hold on some seeds", FAILS, NOT_JUDGED, TOO_FEW, NOT_RUN)
    parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
    return f"{', '.join(parts) or 'no claims'} (of {len(verdicts)} claims)"


def _kind(verdict: str) -> str:
    if verdict == HOLDS:
        return "hold"
    if verdict.startswith(HOLDS):  # "holds on 2 of 3 seeds"
        return "hold on some seeds"
    return next((k for k in (FAILS, NOT_JUDGED, TOO_FEW, NOT_RUN) if verdict.startswith(k)), verdict)


def _environment(results: Results | None) -> dict[str, Any]:
    """Where the runs ran, from the first run's ``env.json``."""
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for folder in results.folders() if results else []:
        path = Path(folder) / "env.json"
        if path.exists():
            recorded = json.loads(path.read_text())
            keys = ("host", "platform", "python", "cuda_device", "torch_num_threads", "cpu", "versions")
            env.update({k: recorded[k] for k in keys if recorded.get(k) is not None})
            break
    return env


def _figures(entry: Entry, scale: str, out: Path, report_dir: Path) -> list[Path]:
    """The sweeps' aggregate figures and the entry's figures from inside its runs, copied beside
    the report (a run's figure is named by its job folder)."""
    copied = []
    for sweep in entry.sweeps[scale]:
        folder = sweep_dir(out, entry, scale, sweep)
        for pattern in (*FIGURES, *entry.run_figures):
            for src in sorted(folder.glob(pattern)):
                inner = src.relative_to(folder).parts
                name = f"{sweep.name}_{inner[0]}_{src.name}" if len(inner) > 1 else f"{sweep.name}_{src.name}"
                dst = report_dir / name.replace("=", "-").replace(",", "_")
                shutil.copyfile(src, dst)
                copied.append(dst)
    return copied


def _summary_csv(entry: Entry, scale: str, out: Path) -> str:
    rows, columns = [], ["sweep"]
    for sweep in entry.sweeps[scale]:
        path = sweep_dir(out, entry, scale, sweep) / "summary.csv"
        if not path.exists():
            continue
        with open(path) as f:
            for row in csv.DictReader(f):
                rows.append({"sweep": sweep.name, **row})
                columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_report(
    entry: Entry, scale: str, out: Path, overrides: list[str], results: Results | None, not_run: str | None
) -> tuple[Path, list[Verdict]]:
    """Write the four files; return the report folder and the verdicts."""
    report_dir = out / entry.name / scale
    report_dir.mkdir(parents=True, exist_ok=True)
    verdicts = check_claims(entry, results, not_run, scale)
    commands = [
        shlex.join(["python", *command(s, overrides, sweep_dir(out, entry, scale, s))[1:]])
        for s in entry.sweeps[scale]
    ]
    figures = _figures(entry, scale, out, report_dir) if results is not None else []
    env = _environment(results)
    seeds = results.seeds() if results else []
    atomic_write_json(
        report_dir / "claims.json",
        {
            "figure": entry.name,
            "section": entry.section,
            "scale": scale,
            "not_run": not_run,
            "claims": [v.__dict__ for v in verdicts],
            "runs": results.folders() if results else [],
            "commands": commands,
            "seeds": seeds,
            "environment": env,
        },
    )
    atomic_write_text(report_dir / "summary.csv", _summary_csv(entry, scale, out))
    parts = _parts(entry, scale, verdicts, commands, seeds, env, not_run)
    atomic_write_text(report_dir / "REPORT.md", _markdown(parts, figures, report_dir))
    atomic_write_text(report_dir / "report.html", _html(parts, figures))
    return report_dir, verdicts


def _parts(
    entry: Entry,
    scale: str,
    verdicts: list[Verdict],
    commands: list[str],
    seeds: list[int],
    env: dict[str, Any],
    not_run: str | None,
) -> dict[str, Any]:
    """What both renderings show, as plain data."""
    return {
        "title": entry.title,
        "lines": [
            f"Paper: {entry.section}. Scale: `{scale}` ({entry.cost.get(scale, '')}). Needs: {entry.needs}.",
            *([f"**Not run**: {not_run}"] if not_run else []),
            *entry.notes,
        ],
        "paper_numbers": [("what", "the paper")] + list(entry.paper_numbers),
        "claims": [("claim", "the paper says", "checked as", "ours", "verdict")]
        + [(v.id, v.source, v.paper, v.ours, v.verdict) for v in verdicts],
        "commands": commands,
        "footer": [
            f"Seeds: {', '.join(map(str, seeds)) or 'none'}.",
            f"Environment: {json.dumps(env, sort_keys=True)}.",
        ],
    }


def _md_table(rows: list[tuple[str, ...]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    head, *body = rows
    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(map(cell, r)) + " |" for r in body])


def _markdown(parts: dict[str, Any], figures: list[Path], report_dir: Path) -> str:
    out = [f"# {parts['title']}", "", *parts["lines"], ""]
    out += [f"![{f.stem}]({f.relative_to(report_dir)})" for f in figures] + [""]
    if len(parts["paper_numbers"]) > 1:
        out += ["## The paper's numbers", "", _md_table(parts["paper_numbers"]), ""]
    out += [
        "## Claims",
        "",
        _md_table(parts["claims"]),
        "",
        "## Commands",
        "",
        "```bash",
        *parts["commands"],
        "```",
        "",
        *parts["footer"],
        "",
    ]
    return "\n".join(out)


def _html_table(rows: list[tuple[str, ...]]) -> str:
    head, *body = rows
    cells = "".join(f"<th>{html.escape(str(c))}</th>" for c in head)
    lines = [f"<tr>{cells}</tr>"]
    lines += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in body]
    return "<table>" + "".join(lines) + "</table>"


def _html(parts: dict[str, Any], figures: list[Path]) -> str:
    # The images inside the page: one file to send or attach.
    encoded = {f.stem: base64.b64encode(f.read_bytes()).decode() for f in figures}
    images = "".join(f'<img alt="{html.escape(k)}" src="data:image/png;base64,{v}">'
                     for k, v in encoded.items())
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}img{max-width:100%}"
    )
    body = [
        f"<h1>{html.escape(parts['title'])}</h1>",
        *[f"<p>{html.escape(line)}</p>" for line in parts["lines"]],
        images,
    ]
    if len(parts["paper_numbers"]) > 1:
        body += ["<h2>The paper's numbers</h2>", _html_table(parts["paper_numbers"])]
    body += [
        "<h2>Claims</h2>",
        _html_table(parts["claims"]),
        "<h2>Commands</h2>",
        "<pre>" + html.escape("\n".join(parts["commands"])) + "</pre>",
        *[f"<p>{html.escape(line)}</p>" for line in parts["footer"]],
    ]
    head = f"<head><meta charset='utf-8'><style>{style}</style></head>"
    return f"<!doctype html><html>{head}<body>{''.join(body)}</body></html>\n"
