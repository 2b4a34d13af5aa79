"""Where playbooks come from: the built-in `playbooks` package and `playbook_dirs` folders.

A folder of playbooks is not a package on `sys.path`, so each folder gets a synthetic
package name, derived from its resolved path, that a finder on `sys.meta_path` maps back
to the folder. The workflow sandbox re-imports a playbook's module by name for every
workflow run; with the finder installed that name keeps resolving, in and out of the
sandbox, for the life of the process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import pkgutil
import re
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from temporalio import workflow

from smokejumper.config import ConfigError, Settings
from smokejumper.domain.routing import Route
from smokejumper.sdk.playbook import Playbook

PACKAGE_PREFIX = "smokejumper_playbooks_"


class PlaybookLoadError(ConfigError):
    """A playbook file or folder cannot be loaded; names the file and, if known, the line."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


class DuplicatePlaybook(ConfigError):
    """Two playbook classes claim one name (the Temporal workflow type)."""

    def __init__(self, name: str, first: type[Playbook], second: type[Playbook]) -> None:
        self.name = name
        self.classes = (first, second)
        first_at, second_at = (_where(cls) for cls in self.classes)
        super().__init__(
            f"playbook name {name!r} is used twice: {first.__qualname__} in {first_at} "
            f"and {second.__qualname__} in {second_at}"
        )


@dataclass(frozen=True)
class PlaybookModule:
    """One imported playbook file and the playbooks it defines, in source order."""

    path: Path
    module: ModuleType
    playbooks: tuple[type[Playbook], ...]


@dataclass
class Catalog:
    """Everything loaded from some sources, with what failed to load kept, not raised."""

    modules: list[PlaybookModule] = field(default_factory=list)
    errors: list[PlaybookLoadError] = field(default_factory=list)

    def add(self, loaded: PlaybookModule) -> None:
        # One module reached twice (a folder and a file in it) is one module.
        if all(known.module is not loaded.module for known in self.modules):
            self.modules.append(loaded)

    def extend(self, other: Catalog) -> None:
        for loaded in other.modules:
            self.add(loaded)
        self.errors.extend(other.errors)

    @property
    def playbooks(self) -> list[type[Playbook]]:
        return [cls for loaded in self.modules for cls in loaded.playbooks]


class _FolderPackageLoader(importlib.abc.Loader):
    """An empty package: the folder's files are its submodules, it has no `__init__` code."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        return None


class _FolderFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.folders: dict[str, Path] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, _FolderPackageLoader(), is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec


_FINDER = _FolderFinder()


def _install_finder() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def package_name(folder: Path) -> str:
    """The synthetic package of a folder: the same folder always gets the same name."""
    resolved = folder.resolve()
    slug = re.sub(r"[^0-9a-zA-Z_]", "_", resolved.name).lower() or "root"
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:10]
    name = f"{PACKAGE_PREFIX}{slug}_{digest}"
    _install_finder()
    _FINDER.folders[name] = resolved
    return name


def _failure_line(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path:
        return exc.lineno
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename]
    for frame in reversed(frames):
        if Path(frame.filename).resolve() == path:
            return frame.lineno
    return None


def _defined_playbooks(module: ModuleType) -> tuple[type[Playbook], ...]:
    """Classes this module defines (not imports) that @playbook made workflows."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Playbook)
        and value is not Playbook
        and value.__module__ == module.__name__
        and is_registered(value)
    ]
    return tuple(sorted(found, key=_first_line))


def is_registered(cls: type[Playbook]) -> bool:
    """Whether @playbook ran on this very class (a subclass inherits the attribute)."""
    return workflow._Definition.from_class(cls) is not None


def _first_line(cls: type) -> int:
    """The line of the `class` statement (inspect starts at the decorators)."""
    try:
        lines, start = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return 0
    for offset, text in enumerate(lines):
        if text.lstrip().startswith("class "):
            return start + offset
    return start


def _import(module_name: str, path: Path) -> PlaybookModule:
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        # Worded as the source check words it, so one mistake is reported once.
        raise PlaybookLoadError(path, f"syntax error: {exc.msg}", _failure_line(exc, path)) from exc
    except Exception as exc:
        raise PlaybookLoadError(
            path, f"cannot import: {type(exc).__name__}: {exc}", _failure_line(exc, path)
        ) from exc
    return PlaybookModule(path=path, module=module, playbooks=_defined_playbooks(module))


@dataclass(frozen=True)
class _BuiltinPackage:
    name: str
    folder: Path


_builtin_package: _BuiltinPackage | None = None


def use_builtin(package: ModuleType) -> None:
    """Name the package of built-in playbooks. The `playbooks` package calls this when it
    is imported, so every process that imports it (the workers, the CLI, the test kit)
    discovers its playbooks; the core itself never imports it."""
    global _builtin_package
    if _builtin_package is None or _builtin_package.name != package.__name__:
        _builtin_package = _BuiltinPackage(package.__name__, Path(package.__path__[0]).resolve())


def builtin_folder() -> Path | None:
    return _builtin_package.folder if _builtin_package is not None else None


def load_file(path: Path) -> PlaybookModule:
    """Import one playbook file as `<folder package>.<stem>`.

    A file of the built-in package keeps its real module name, so naming it explicitly
    yields the same classes as discovery, not a second copy under another name.
    """
    resolved = path.resolve()
    if resolved.suffix != ".py" or not resolved.is_file():
        raise PlaybookLoadError(path, "not a Python file")
    if not resolved.stem.isidentifier():
        raise PlaybookLoadError(
            path, "the file name is not a Python module name (use letters, digits and _)"
        )
    if _builtin_package is not None and resolved.parent == _builtin_package.folder:
        return _import(f"{_builtin_package.name}.{resolved.stem}", resolved)
    return _import(f"{package_name(resolved.parent)}.{resolved.stem}", resolved)


def load_folder(folder: Path) -> Catalog:
    """Import every `*.py` file of `folder`; files named `_*.py` are helpers, not loaded."""
    catalog = Catalog()
    if not folder.is_dir():
        catalog.errors.append(PlaybookLoadError(folder, "playbook folder does not exist"))
        return catalog
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            catalog.add(load_file(path))
        except PlaybookLoadError as exc:
            catalog.errors.append(exc)
    return catalog


def load_path(path: Path) -> Catalog:
    """A file or a folder, as `--path` and `validate PATH` name them."""
    if path.is_dir():
        return load_folder(path)
    catalog = Catalog()
    if not path.exists():
        catalog.errors.append(PlaybookLoadError(path, "no such file or folder"))
        return catalog
    try:
        catalog.add(load_file(path))
    except PlaybookLoadError as exc:
        catalog.errors.append(exc)
    return catalog


def load_builtin() -> Catalog:
    """Every module of the built-in `playbooks` package (its own name, not a synthetic one);
    none when no package of built-ins was named (`use_builtin`)."""
    catalog = Catalog()
    if _builtin_package is None:
        return catalog
    modules = pkgutil.iter_modules([str(_builtin_package.folder)])
    for info in sorted(modules, key=lambda item: item.name):
        if info.name.startswith("_"):
            continue
        name = f"{_builtin_package.name}.{info.name}"
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin) if spec is not None and spec.origin else Path(name)
        try:
            catalog.add(_import(name, origin.resolve()))
        except PlaybookLoadError as exc:
            catalog.errors.append(exc)
    return catalog


def load_all(settings: Settings | None = None, extra: Iterable[Path] = ()) -> Catalog:
    """Built-in playbooks, then `settings.playbook_dirs` in order, then `extra` paths."""
    catalog = load_builtin()
    seen = {folder} if (folder := builtin_folder()) is not None else set()
    folders = settings.playbook_dirs if settings else []
    for path, load in [*((p, load_folder) for p in folders), *((p, load_path) for p in extra)]:
        resolved = path.resolve()
        if resolved in seen:
            # Listing the built-in folder (or one folder twice) must not load it twice.
            continue
        seen.add(resolved)
        catalog.extend(load(path))
    return catalog


def by_name(playbooks: Iterable[type[Playbook]]) -> dict[str, type[Playbook]]:
    """Playbooks keyed by name; raises DuplicatePlaybook naming both files."""
    named: dict[str, type[Playbook]] = {}
    for cls in playbooks:
        if cls.name in named and named[cls.name] is not cls:
            raise DuplicatePlaybook(cls.name, named[cls.name], cls)
        named[cls.name] = cls
    return named


def discover(
    settings: Settings | None = None, extra: Iterable[Path] = ()
) -> dict[str, type[Playbook]]:
    """Every playbook the worker runs, by name (the Temporal workflow type).

    Raises PlaybookLoadError (a ConfigError) naming the first file that failed, or
    DuplicatePlaybook when two classes share a name.
    """
    catalog = load_all(settings, extra)
    if catalog.errors:
        if len(catalog.errors) == 1:
            raise catalog.errors[0]
        raise ConfigError(
            "playbooks failed to load:\n" + "\n".join(f"  {error}" for error in catalog.errors)
        )
    return by_name(catalog.playbooks)


@functools.cache
def _builtin() -> tuple[type[Playbook], ...]:
    catalog = load_builtin()
    if catalog.errors:
        raise catalog.errors[0]
    return tuple(catalog.playbooks)


def builtin_playbooks() -> dict[str, type[Playbook]]:
    """The built-in playbooks alone (what `playbooks.BUILTIN_PLAYBOOKS` answers)."""
    return by_name(_builtin())


def routes_of(playbooks: Mapping[str, type[Playbook]] | Iterable[type[Playbook]]) -> list[Route]:
    """The triggers playbooks declare, each pinned to its playbook: those of `playbook_dirs`
    first, then the built-ins', each in discovery order, except that triggers naming
    taxonomy ids come before those that do not. A team's own playbook for a kind the
    built-ins handle too is the one it wrote for its case, so it wins.

    A trigger always starts the playbook that declares it, whatever `playbook` it names
    (`playbooks validate` reports a mismatch); `origin` says where the route came from.
    """
    classes = list(playbooks.values() if isinstance(playbooks, Mapping) else playbooks)
    prefix = f"{_builtin_package.name}." if _builtin_package is not None else None
    builtin = [cls for cls in classes if prefix and cls.__module__.startswith(prefix)]
    routes: list[Route] = []
    for group in ([cls for cls in classes if cls not in builtin], builtin):
        pinned = [
            trigger.model_copy(update={"playbook": cls.name, "origin": f"playbook:{cls.name}"})
            for cls in group
            for trigger in cls.triggers
        ]
        # A trigger on taxonomy (LLM07 leaks) is more specific than one on the kind alone
        # (every leak): within a group it is tried first, whatever the discovery order.
        routes.extend(sorted(pinned, key=lambda route: not route.taxonomy))
    return routes


def source_of(cls: type) -> tuple[Path, int]:
    """The file and the line of the `class` statement of a playbook."""
    try:
        file = inspect.getsourcefile(cls)
    except TypeError:
        file = None
    return (Path(file) if file else Path(cls.__module__)), _first_line(cls)


def _where(cls: type) -> str:
    path, line = source_of(cls)
    return f"{path}:{line}" if line else str(path)
