# Run once inside every Paddock Python kernel (by python_relay.py) before the first cell.
# Adds Paddock's representations (DataFrames as table data, matplotlib figures as chart
# data), shows figures automatically, caps cell output, and makes the kernel the first
# process the OOM killer picks. Everything is defined inside one function so that the
# user's namespace stays clean.


def _paddock_setup():
    import datetime
    import importlib.util
    import json
    import math
    import os
    import sys

    from IPython import get_ipython
    from IPython.core.formatters import JSONFormatter
    from traitlets import Unicode

    ip = get_ipython()
    data_mime = "application/vnd.paddock.data+json"
    chart_mime = "application/vnd.paddock.chart+json"
    max_rows = 10_000

    # An OOM inside the sandbox should take the kernel (reported, restarted), not the agent.
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass

    def safe(value):
        """A JSON-safe copy: NaN/inf → None, numpy scalars → numbers, dates → ISO strings."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): safe(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [safe(v) for v in value]
        if hasattr(value, "tolist"):  # numpy arrays and scalars
            return safe(value.tolist())
        if hasattr(value, "isoformat"):  # pandas Timestamp
            return value.isoformat()
        return str(value)

    class PaddockJSONFormatter(JSONFormatter):
        def __init__(self, mime, **kwargs):
            super().__init__(**kwargs)
            self.format_type = mime
            # Not JSONFormatter's `_repr_json_`: only the registered types get these formats.
            self.print_method = "_repr_paddock_" + mime.rsplit(".", 1)[-1].replace("+", "_") + "_"

    def register(mime, module, name, fn):
        formatter = ip.display_formatter.formatters.get(mime)
        if formatter is None:
            formatter = PaddockJSONFormatter(mime, parent=ip.display_formatter)
            ip.display_formatter.formatters[mime] = formatter

        def guarded(obj):
            try:
                return fn(obj)
            except Exception:  # noqa: BLE001 - a representation that fails is left out
                return None

        formatter.for_type_by_name(module, name, guarded)

    def frame_data(df):
        head = df.head(max_rows)
        split = json.loads(head.to_json(orient="split", date_format="iso", default_handler=str))
        columns = [c if isinstance(c, str) else json.dumps(safe(c)) for c in split.get("columns", [])]
        out = {"columns": columns, "index": split.get("index", []), "rows": split.get("data", [])}
        if len(df) > max_rows:
            out["truncated"] = True
            out["totalRows"] = int(len(df))
        return out

    def series_data(series):
        return frame_data(series.to_frame())

    register(data_mime, "pandas.core.frame", "DataFrame", frame_data)
    register(data_mime, "pandas.core.series", "Series", series_data)

    # --- matplotlib figures as chart data -----------------------------------------------
    def text_of(t):
        return t.get_text() if t is not None else ""

    def axes_chart(ax):
        from matplotlib.collections import PathCollection
        from matplotlib.container import BarContainer
        from matplotlib.patches import Wedge

        base = {
            "title": ax.get_title(),
            "xLabel": ax.get_xlabel(),
            "yLabel": ax.get_ylabel(),
        }
        wedges = [p for p in ax.patches if isinstance(p, Wedge)]
        if wedges:
            labels = [t.get_text() for t in ax.texts]
            elements = []
            for i, w in enumerate(wedges):
                angle = (w.theta2 - w.theta1) % 360 or 360.0
                label = w.get_label() if w.get_label() and not w.get_label().startswith("_") else ""
                if not label and i < len(labels):
                    label = labels[i]
                elements.append(
                    {"label": label, "angle": safe(angle), "fraction": safe(angle / 360.0), "radius": safe(w.r)}
                )
            return {**base, "type": "pie", "elements": elements}
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        if bars:
            ticks = {round(float(t), 6): l.get_text() for t, l in zip(ax.get_xticks(), ax.get_xticklabels())}
            elements = []
            for container in bars:
                group = container.get_label() if not str(container.get_label()).startswith("_") else ""
                for rect in container.patches:
                    x = rect.get_x() + rect.get_width() / 2
                    elements.append(
                        {
                            "label": ticks.get(round(float(x), 6), safe(x)),
                            "value": safe(rect.get_height()),
                            "group": group,
                        }
                    )
            return {**base, "type": "bar", "elements": elements}
        if _looks_like_boxplot(ax):
            return {**base, "type": "box_and_whisker", "elements": _box_elements(ax)}
        scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
        if scatters and not ax.lines:
            elements = []
            for c in scatters:
                label = c.get_label() if not str(c.get_label()).startswith("_") else ""
                elements.append({"label": label, "points": safe(c.get_offsets().tolist())})
            return {**base, **_ticks(ax), "type": "scatter", "elements": elements}
        if ax.lines:
            elements = []
            for line in ax.lines:
                label = line.get_label() if not str(line.get_label()).startswith("_") else ""
                xs = _axis_values(ax.xaxis, line.get_xdata())
                points = [[x, y] for x, y in zip(xs, safe(list(line.get_ydata())))]
                elements.append({"label": label, "points": points})
            return {**base, **_ticks(ax), "type": "line", "elements": elements}
        return {**base, "type": "unknown", "elements": []}

    def _ticks(ax):
        # Ticks, their labels and the scale of both axes, as E2B's charts report them for
        # line and scatter plots (categorical: ticks 0..n-1 labelled by something else).
        out = {}
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            try:
                labels = [t.get_text() for t in axis.get_ticklabels()]
                ticks = _axis_values(axis, axis.get_ticklocs())
                scale = axis.get_scale()
                if _is_date_axis(axis):
                    scale = "datetime"
                elif scale == "linear" and labels and all(
                    isinstance(t, (int, float)) and t == i and str(i) != label
                    for i, (t, label) in enumerate(zip(ticks, labels))
                ):
                    scale = "categorical"
                out.update({f"{name}Ticks": ticks, f"{name}TickLabels": labels, f"{name}Scale": scale})
            except Exception:  # noqa: BLE001
                pass
        return out

    def _is_date_axis(axis):
        try:
            from matplotlib.dates import DateConverter

            converter = getattr(axis, "get_converter", lambda: axis.converter)()
            return isinstance(converter, DateConverter) or type(converter).__name__.endswith("DateConverter")
        except Exception:  # noqa: BLE001
            return False

    def _axis_values(axis, values):
        values = list(values)
        try:
            from matplotlib.dates import DateConverter, num2date

            converter = getattr(axis, "get_converter", lambda: axis.converter)()
            if isinstance(converter, DateConverter) or type(converter).__name__.endswith("DateConverter"):
                return [num2date(v).isoformat() if isinstance(v, (int, float)) else safe(v) for v in values]
        except Exception:  # noqa: BLE001
            pass
        return safe(values)

    def _looks_like_boxplot(ax):
        # ax.boxplot draws, per box: 2 whiskers, 2 caps, 1 median (+ fliers) as Line2D
        # objects; the medians are the lines labelled nothing but drawn horizontally
        # inside a box. It tags none of them, so a figure marks it by its line pattern.
        return bool(getattr(ax, "_paddock_boxplot", None))

    def _box_elements(ax):
        elements = []
        for i, stats in enumerate(ax._paddock_boxplot):
            elements.append({k: safe(v) for k, v in stats.items()} | {"label": stats.get("label", str(i + 1))})
        return elements

    def figure_chart(fig):
        axes = [ax for ax in fig.get_axes() if ax.get_visible()]
        charts = [axes_chart(ax) for ax in axes]
        if len(charts) == 1:
            return charts[0]
        return {"type": "composite", "title": text_of(getattr(fig, "_suptitle", None)), "elements": charts}

    if importlib.util.find_spec("matplotlib") is not None:
        try:
            # A cell ending with a figure shows it as its result; the inline backend would
            # show it again after the cell. Such figures are closed first (this handler is
            # registered before the backend's own post_execute handler).
            shown_as_result = []
            compute_format_data = ip.displayhook.compute_format_data

            def remember_figures(result):
                if type(result).__name__ == "Figure":
                    shown_as_result.append(result)
                return compute_format_data(result)

            ip.displayhook.compute_format_data = remember_figures

            def close_shown_figures():
                if shown_as_result:
                    import matplotlib.pyplot as plt

                    for fig in shown_as_result:
                        plt.close(fig)
                    shown_as_result.clear()

            ip.events.register("post_execute", close_shown_figures)
            ip.run_line_magic("matplotlib", "inline")
            # Records box statistics when ax.boxplot is called, so the chart can report them.
            import matplotlib.axes
            import matplotlib.cbook

            original = matplotlib.axes.Axes.boxplot

            def boxplot(self, x, *args, **kwargs):
                out = original(self, x, *args, **kwargs)
                try:
                    labels = kwargs.get("labels") or kwargs.get("tick_labels")
                    stats = matplotlib.cbook.boxplot_stats(x, whis=kwargs.get("whis", 1.5), labels=labels)
                    self._paddock_boxplot = [
                        {
                            "label": str(s.get("label", i + 1)),
                            "min": s["whislo"],
                            "firstQuartile": s["q1"],
                            "median": s["med"],
                            "thirdQuartile": s["q3"],
                            "max": s["whishi"],
                            "outliers": list(s["fliers"]),
                        }
                        for i, s in enumerate(stats)
                    ]
                except Exception:  # noqa: BLE001
                    pass
                return out

            matplotlib.axes.Axes.boxplot = boxplot
            register(chart_mime, "matplotlib.figure", "Figure", figure_chart)
        except Exception as err:  # noqa: BLE001
            print(f"paddock: matplotlib integration disabled: {err}", file=sys.__stderr__)

    # --- output cap per cell -------------------------------------------------------------
    cap = int(os.environ.get("PADDOCK_OUTPUT_CAP_BYTES", str(8 * 1048576)))
    state = {"sent": 0, "truncated": False}

    def reset(*_args):
        state["sent"] = 0
        state["truncated"] = False

    ip.events.register("pre_run_cell", reset)

    stderr_write = sys.stderr.write

    def capped(stream):
        write = stream.write

        def capped_write(text):
            if state["truncated"]:
                return len(text)
            if state["sent"] + len(text) > cap:
                write(text[: max(0, cap - state["sent"])])
                state["truncated"] = True
                stderr_write(f"\n[paddock: output truncated after {cap} characters]\n")
                return len(text)
            state["sent"] += len(text)
            return write(text)

        stream.write = capped_write

    capped(sys.stdout)
    capped(sys.stderr)


_paddock_setup()
del _paddock_setup
