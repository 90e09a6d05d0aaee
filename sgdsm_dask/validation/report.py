"""One Markdown report of an evaluation: tables, error maps, time series, and in-situ scores.

``sgdsm evaluate --report DIR`` writes ``DIR/report.md`` and the PNGs it
shows beside it, so the folder can be opened, zipped or committed as a
whole. With ``--product RESULT`` the report adds a time series of that
reconstruction at a pixel, and with ``--ismn ARCHIVE`` as well the in-situ
scores of :func:`~sgdsm_dask.validation.insitu.validate`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .simulated import Evaluation


def write_report(
    out_dir: str | Path,
    ev: Evaluation,
    store: str,
    settings: dict[str, Any],
    product: str | None = None,
    insitu: dict[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/report.md`` (and its pictures) for the evaluation ``ev`` of ``store``.

    ``settings`` (checkpoint hash, seed, overlap, ...) are listed at the top
    so that a reader can run the same command again. ``product`` adds a time
    series of that reconstruction of ``store``; ``insitu`` is what
    :func:`~sgdsm_dask.validation.insitu.validate` returned for files it
    wrote inside ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = _header(ev, store, settings) + _pictures(ev, out) + _uncertainty(ev, out)
    if product is not None:
        lines += _product(ev, store, product, out)
    if insitu is not None:
        text = Path(insitu["markdown"]).read_text().replace("# ISMN validation", "## In-situ stations (ISMN)", 1)
        lines += [text, f"All rows: [{Path(insitu['csv']).name}]({_rel(insitu['csv'], out)})", ""]
        for png in insitu["plots"]:
            lines += [f"![{Path(png).stem}]({_rel(png, out)})", ""]
    path = out / "report.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
    return path


#: The first line of every ``report.md`` (a local ``--report`` folder holding one is a report of ours, replaced).
TITLE = "# SGD-SM 2.0 evaluation report"


def _header(ev: Evaluation, store: str, settings: dict[str, Any]) -> list[str]:
    """The settings and the table of scores on the simulated gaps."""
    return [
        TITLE,
        "",
        f"Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by sgdsm-dask {__version__}.",
        "",
        "| setting | value |",
        "|---|---|",
        f"| staged store | `{store}` |",
        *[f"| {k} | {v} |" for k, v in settings.items()],
        "",
        "## Simulated gaps",
        "",
        "Observed pixels were hidden with the real gap masks of other days (a seeded",
        "derangement of the days), the cube was filled by the LSTM-CNN and by the",
        "baselines a user would otherwise pick, and each is scored (RMSE, m3/m3) on",
        "the hidden pixels every method filled. The baselines' parameters were chosen",
        "on a second set of pixels hidden from what every method saw, never on the",
        "scored ones. The classes of climatology are those of each scored pixel's",
        "mean over its days left observed.",
        "",
        ev.table(),
        "",
    ]


def _pictures(ev: Evaluation, out: Path) -> list[str]:
    """The error maps and the time series at the pixels with the most hidden days, where the evaluation has them."""
    from ..plots import error_maps, evaluation_series

    lines: list[str] = []
    if "lon" in ev.coords:
        error_maps(ev, out / "error_maps.png")
        lines += [
            "### Where the errors are",
            "",
            "RMSE per pixel over its hidden days, for each method, and the model's",
            "minus the best baseline's (blue where the model is better).",
            "",
            "![error maps](error_maps.png)",
            "",
        ]
    if ev.series_pixels(1):
        evaluation_series(ev, out / "series_hidden.png")
        lines += [
            "### Time series at the pixels with the most hidden days",
            "",
            "Black dots: observations every method saw; red circles: observations hidden",
            "from every method (the reference); lines: what each method filled in;",
            "bars from the top: precipitation (when the store has it).",
            "",
            "![time series](series_hidden.png)",
            "",
        ]
    return lines


def _uncertainty(ev: Evaluation, out: Path) -> list[str]:
    """The reliability diagram of sigma and the uncertainty map of the day with the most scored pixels."""
    from ..uncertainty_plots import reliability_plot, uncertainty_map

    u = ev.uncertainty
    if u is None or not u.reliability.rows[0]["n"]:
        return []
    reliability_plot(u.reliability, out / "reliability.png")
    lines = [
        "### How good sigma is",
        "",
        "Left: the fraction of hidden pixels whose error lies within ±1σ and ±2σ of the",
        "LSTM-CNN's fill, overall and by days since the pixel was last observed (shaded:",
        "0.63-0.73 and 0.92-0.97; dashed: a Gaussian's 0.683 and 0.954). Right: mean σ",
        "against RMSE per class (dotted: equal).",
        "",
        "![reliability](reliability.png)",
        "",
    ]
    if "lon" in ev.coords and "lat" in ev.coords:
        t = int(np.argmax(ev.scored.sum(axis=(1, 2))))
        when = f"{np.datetime_as_string(ev.coords['time'][t], unit='D')}" if "time" in ev.coords else f"day {t}"
        uncertainty_map(
            ev.estimates["LSTM-CNN"][t],
            u.sigma[t],
            u.days[t],
            ev.coords["lat"],
            ev.coords["lon"],
            f"LSTM-CNN fill of {when} (the day with the most hidden pixels)",
            out / "uncertainty_map.png",
        )
        lines += [
            f"The fill of {when}, its σ and the days since each pixel was observed",
            "(in the cube the model was given):",
            "",
            "![uncertainty map](uncertainty_map.png)",
            "",
        ]
    return lines


def _product(ev: Evaluation, store: str, product: str, out: Path) -> list[str]:
    """A time series of the reconstruction ``product`` at a rainy land pixel with gaps on about half the days."""
    import xarray as xr

    from ..plots import pick_pixel, product_series

    st = xr.open_zarr(store, consolidated=False)
    if "lat" in ev.coords and "lon" in ev.coords:  # the evaluated box (--region), not the whole store
        st = st.sel(lat=ev.coords["lat"], lon=ev.coords["lon"])
    i, j = pick_pixel(st)
    lon, lat = float(st.lon[j]), float(st.lat[i])
    product_series(store, product, lon, lat, out / "series_product.png")
    return [
        "## The reconstruction",
        "",
        f"`{product}` at {lat:.3f} N, {lon:.3f} E (a land pixel with gaps on about half",
        "of the days and the most rain): observed, reconstructed and precipitation",
        "over time, like the paper's Fig. 9-11.",
        "",
        "![product time series](series_product.png)",
        "",
    ]


def _rel(path: str | Path, base: Path) -> str:
    return Path(path).resolve().relative_to(base.resolve()).as_posix()
