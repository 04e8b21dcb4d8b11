"""The panel protocol: what a panel of the explorer declares, and what it may read of the explorer.

A panel is declared in one place, a subclass of :class:`Panel` registered with
:func:`register_panel`. The :class:`~bertviz_kit.Explorer` lays the chosen
panels out in rows, computes and draws each one, and after a change of the
selection recomputes and redraws only the panels whose inputs changed.

What a panel declares
---------------------
``name``
    Its registry name (``bk.explore(e, panels=("histogram", "lens"))``).
``depends``
    The explorer settings it reads: ``"token"``, ``"layer"``, ``"layers"``,
    ``"subwords"`` and the keys of any shown panel's :meth:`~Panel.controls`
    (``"head"``, ``"level"``). When none of them changed, the panel is
    neither computed nor drawn again.
``width``
    Its share of its row (the explorer puts up to three panels in a row).
``compute(x)``
    The numbers it shows for explorer ``x``: read ``x.e`` (the
    :class:`~bertviz_kit.Encoding`), ``x.state`` (the settings), ``x.encoder``
    (the :class:`~bertviz_kit.Encoder`, or ``None``), and share results between
    panels with ``x.memo(key, fn)``. The model never runs here.
``draw(ax, data)``
    A full draw of ``data`` on an empty Axes (the panel may add a colour bar
    beside it; its stripe of the figure includes it).

Optional: :meth:`~Panel.controls` (drop-downs it adds, such as the attention
head), :meth:`~Panel.check` (refuse an explorer it cannot work with, saying
what to do), :meth:`~Panel.key` (a narrower cache key than ``depends``), and
the fast path: ``stages``, :meth:`~Panel.stage_keys`,
:meth:`~Panel.artists`, :meth:`~Panel.update`. Without them a change
redraws the panel's Axes: cleared, then :meth:`~Panel.draw` again (a panel
that adds a colour bar should declare its own ``update``, which changes its
artists in place).

A custom panel::

    import bertviz_kit as bk

    class NormPanel(bk.Panel):
        name = "norm"
        depends = ("token",)

        def compute(self, x):
            t = x.state["token"]
            return x.e.layer_ids, x.e.hidden_states[:, t].float().norm(dim=-1), t

        def draw(self, ax, data):
            layer_ids, norms, t = data
            ax.plot(layer_ids, norms.numpy(), marker="o")
            ax.set(xlabel="layer (0 = embeddings)", ylabel="vector norm", title=f"norm of token {t}")

    bk.explore(e, panels=("histogram", NormPanel()))   # an instance, or register it:
    bk.register_panel(NormPanel); bk.explore(e, panels=("histogram", "norm"))
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from matplotlib.artist import Artist
from matplotlib.axes import Axes

from .._validation import TEXT, Instance, InvalidParameterError, Unchecked, validate_params

if TYPE_CHECKING:
    from ..encoder import Encoder
    from ..encoding import Encoding

__all__ = [
    "ExplorerView",
    "Panel",
    "PanelControl",
    "PANELS",
    "DEFAULT_PANELS",
    "register_panel",
    "resolve_panels",
    "check_dependencies",
    "merge_controls",
]


class ExplorerView(Protocol):
    """What a panel reads of the explorer (:class:`bertviz_kit.Explorer` is one)."""

    #: The encoding shown.
    e: Encoding
    #: The encoder, or ``None`` (the lens needs it).
    encoder: Encoder | None
    #: The current settings: ``"token"``, ``"layer"``, ``"layers"``, ``"subwords"`` and the panels' controls.
    state: dict[str, Any]

    def memo(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """``fn()``, computed once per encoding and key, shared between panels."""
        ...


@dataclass(frozen=True)
class PanelControl:
    """A setting a panel adds to the explorer: a key of ``Explorer.state`` and its drop-down.

    Parameters
    ----------
    description : str
        The drop-down's label.
    default : object
        The value at start.
    choices : tuple of (label, value)
        What the drop-down offers; ``set()`` accepts exactly these values.
    """

    description: str
    default: Any
    choices: tuple[tuple[str, Any], ...]

    @property
    def values(self) -> tuple[Any, ...]:
        """The values of :attr:`choices`, without their labels."""
        return tuple(v for _, v in self.choices)

    @validate_params({"name": TEXT, "value": Unchecked("any value: compared with the choices in the body")})
    def check(self, name: str, value: Any) -> Any:
        """The choice equal to ``value``, or :class:`InvalidParameterError` listing the choices."""
        for v in self.values:
            if value == v and isinstance(value, bool) == isinstance(v, bool) and \
                    isinstance(value, str) == isinstance(v, str):
                return v
        raise InvalidParameterError(f"{name} must be one of {self.values}; got {value!r}.")


class Panel:
    """One panel of the explorer. Subclass it, then register it (:func:`register_panel`)
    or pass an instance in ``bk.explore(e, panels=(...))``.

    Class attributes
    ----------------
    name : str
        Registry name; unique among the panels of one explorer.
    depends : tuple of str
        Explorer settings :meth:`compute` reads (see the module docstring).
    width : float, default 1.0
        Share of its row.
    stages : tuple of str, default ``("all",)``
        Redraw stages, bottom to top (the fast path: see :meth:`update`).
    """

    name: ClassVar[str] = ""
    depends: ClassVar[tuple[str, ...]] = ()
    width: ClassVar[float] = 1.0
    stages: ClassVar[tuple[str, ...]] = ("all",)

    # -- what it needs ------------------------------------------------------
    def controls(self, e: Encoding) -> dict[str, PanelControl]:
        """Settings this panel adds (state key -> :class:`PanelControl`); none by default."""
        return {}

    def check(self, x: ExplorerView) -> None:
        """Raise :class:`InvalidParameterError` when this panel cannot work with explorer ``x``."""

    def key(self, x: ExplorerView) -> Hashable:
        """What :meth:`compute` depends on: it runs again only when this changes.

        Default: the values of the ``depends`` settings.
        """
        return tuple(x.state[k] for k in self.depends)

    # -- what it shows ------------------------------------------------------
    def compute(self, x: ExplorerView) -> Any:
        """The data this panel shows for the explorer's current selection."""
        raise NotImplementedError(f"panel {self.name!r} must define compute(x)")

    def draw(self, ax: Axes, data: Any) -> None:
        """Draw ``data`` on the empty Axes ``ax`` (the full draw)."""
        raise NotImplementedError(f"panel {self.name!r} must define draw(ax, data)")

    # -- fast path ----------------------------------------------------------
    def stage_keys(self, data: Any, key: Hashable) -> tuple[Hashable, ...]:
        """One key per stage: a stage (and every stage above it) is redrawn when its key changes.

        Default: the compute key for every stage.
        """
        return (key,) * len(self.stages)

    def artists(self, ax: Axes, stage: str) -> list[Artist]:
        """The artists of ``stage``, drawn in this order over the stage's background.

        Default: the whole Axes. The explorer draws them itself (they are
        animated); everything else of the panel is drawn once.
        """
        return [ax]

    def update(self, ax: Axes, data: Any, stage: str) -> None:
        """Set the artists of ``stage`` to ``data`` (nothing is drawn here).

        Default: clear the Axes and :meth:`draw` again, the axis labels kept
        where the explorer's layout put them.
        """
        labels = [(axis, axis.label.get_position(), axis.label.get_transform()) for axis in (ax.xaxis, ax.yaxis)]
        ax.cla()
        self.draw(ax, data)
        for axis, position, transform in labels:
            axis.set_label_coords(*position, transform=transform)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: Registered panels: name -> class (:func:`register_panel`).
PANELS: dict[str, type[Panel]] = {}

#: The explorer's panels unless told otherwise.
DEFAULT_PANELS = ("histogram", "heatmap", "curves")


@validate_params({"cls": Instance(type, label="a subclass of bk.Panel")})
def register_panel(cls: type[Panel]) -> type[Panel]:
    """Register a :class:`Panel` subclass under its ``name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Panel)):
        raise InvalidParameterError(f"cls must be a subclass of bk.Panel; got {cls!r}.")
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise InvalidParameterError(f"{cls.__name__}.name must be a name such as 'norm'; got {cls.name!r}.")
    PANELS[cls.name] = cls
    return cls


def resolve_panels(panels: object) -> tuple[Panel, ...]:
    """``panels`` (names, Panel subclasses or instances) -> instances, checked."""
    names = tuple(PANELS)
    allowed = f"a sequence of panel names from {names}, Panel subclasses or Panel instances"
    if isinstance(panels, (str, bytes)) or not isinstance(panels, Sequence):
        hint = f" (one panel: panels=({panels!r},))" if isinstance(panels, str) else ""
        raise InvalidParameterError(f"panels must be {allowed}; got {panels!r}{hint}.")
    if not panels:
        raise InvalidParameterError(f"panels must be {allowed}, at least one; got an empty sequence.")
    out: list[Panel] = []
    for p in panels:
        if isinstance(p, str):
            if p not in PANELS:
                raise InvalidParameterError(f"panels must hold names from {names} or Panel instances; got {p!r}.")
            p = PANELS[p]()
        elif isinstance(p, type) and issubclass(p, Panel):
            p = p()
        elif not isinstance(p, Panel):
            raise InvalidParameterError(f"panels must be {allowed}; got {p!r}.")
        if not isinstance(p.name, str) or not p.name:
            raise InvalidParameterError(f"{type(p).__name__}.name must be a non-empty string; got {p.name!r}.")
        if any(q.name == p.name for q in out):
            raise InvalidParameterError(f"panels must name each panel once; {p.name!r} appears twice.")
        out.append(p)
    return tuple(out)



def check_dependencies(panels: Sequence[Panel], settings: Sequence[str]) -> None:
    """Every panel depends only on settings the explorer has."""
    for p in panels:
        unknown = [k for k in p.depends if k not in settings]
        if unknown:
            raise InvalidParameterError(
                f"panel {p.name!r} depends on {unknown}, which the explorer does not have; its settings are "
                f"{tuple(settings)}.")


def merge_controls(panels: Sequence[Panel], e: Encoding, reserved: Sequence[str]) -> dict[str, PanelControl]:
    """The controls of all ``panels`` (one per key; panels that share a key must declare the same one)."""
    out: dict[str, PanelControl] = {}
    owner: dict[str, str] = {}
    for p in panels:
        for k, c in p.controls(e).items():
            if k in reserved:
                raise InvalidParameterError(f"panel {p.name!r} declares control {k!r}, a setting of the explorer.")
            if k in out and out[k] != c:
                raise InvalidParameterError(
                    f"panels {owner[k]!r} and {p.name!r} declare different controls named {k!r}.")
            out[k], owner[k] = c, p.name
    return out
