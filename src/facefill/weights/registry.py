"""The checkpoint registry: `weights.toml` parsed into `WeightsEntry` records.

The toml is the single list of every checkpoint facefill knows: where to get it (Hub and URL
mirrors, in order of preference), how to check it (sha256, size), what it may be used for
(licence, non-commercial flag) and how to read it (format, key map). Parsing validates it up front
so that a typo in the registry fails loudly at the first lookup, not halfway through a download.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from facefill.errors import WeightsError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FORMATS = ("safetensors", "torch-pickle", "torchscript")
# What a file loads as. "module": a state_dict for the models-registry architecture named by
# `architecture` (`pipelines.pretrained.load_pretrained` builds it); "torchscript": a whole scripted
# model; "state-dict": tensors with no facefill architecture of their own (combined by a builder,
# e.g. LPIPS lin layers + VGG trunk); "tensors": other saved objects (editing directions, PCA).
KINDS = ("module", "torchscript", "state-dict", "tensors")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

# Env var that points the registry at another toml (tests, private registries).
REGISTRY_ENV = "FACEFILL_WEIGHTS_TOML"


@dataclass(frozen=True)
class KeyMap:
    """How to turn a loaded checkpoint into the state_dict an architecture expects.

    Applied in this order: `take` (a sub-dict, dotted for nesting, e.g. "g_ema" or "state_dict"),
    `flatten` (join these sub-dicts into one, keys become "SUB.key", e.g. unsup3d's netD/netA/...),
    `select_prefix` (keep only keys with this prefix and remove it, e.g. "encoder."),
    `strip_prefix` (remove each of these prefixes where present, e.g. "module."),
    `drop` (delete these keys, e.g. "loss.weight").
    """

    take: str = ""
    flatten: tuple[str, ...] = ()
    select_prefix: str = ""
    strip_prefix: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @property
    def is_identity(self) -> bool:
        return not (self.take or self.flatten or self.select_prefix or self.strip_prefix or self.drop)


@dataclass(frozen=True)
class Build:
    """Which models-registry architecture a file (or one view of it) loads into, and its config."""

    architecture: str
    kind: str = "module"
    config: dict = field(default_factory=dict)

    @property
    def is_module(self) -> bool:
        return self.kind == "module"


@dataclass(frozen=True)
class Source:
    """One place to get an entry from: a pinned Hub file, a plain URL, or a file shipped in the package."""

    hf: str = ""  # Hub repo_id
    filename: str = ""  # file inside the Hub repo
    revision: str = ""  # Hub commit, always pinned
    url: str = ""
    asset: str = ""  # file name under facefill/assets (installed with the code: nothing to download)

    @property
    def kind(self) -> str:
        return "hub" if self.hf else "asset" if self.asset else "url"

    def describe(self) -> str:
        if self.hf:
            return f"hf://{self.hf}@{self.revision[:8]}/{self.filename}"
        if self.asset:
            return f"package asset facefill/assets/{self.asset}"
        return self.url


@dataclass(frozen=True)
class WeightsEntry:
    """One checkpoint of the registry (see weights.toml for field meanings)."""

    name: str
    description: str
    architecture: str
    filename: str  # name in the facefill cache and in FACEFILL_WEIGHTS_DIR
    format: str
    license: str
    non_commercial: bool
    upstream: str
    sha256: str = ""  # "" = no published hash
    size: int = 0  # exact bytes; 0 = unknown
    approx_size: int = 0  # for display when the exact size is unknown
    trust_on_first_use: bool = False
    sources: tuple[Source, ...] = ()
    manual: str = ""  # how to obtain the file by hand when there is no downloadable source
    keymap: KeyMap = field(default_factory=KeyMap)
    views: dict[str, KeyMap] = field(default_factory=dict)
    kind: str = "module"
    config: dict = field(default_factory=dict)  # builder config, e.g. {size = 256}
    view_builds: dict[str, Build] = field(default_factory=dict)  # views that load another architecture

    @property
    def downloadable(self) -> bool:
        return any(s.kind != "asset" for s in self.sources)

    @property
    def asset(self) -> str:
        """The package asset file name when the entry ships with facefill, else ""."""
        return next((s.asset for s in self.sources if s.kind == "asset"), "")

    def build_for(self, view: str | None) -> Build:
        """The architecture (and its config) that the state_dict of `view` fits."""
        self.keymap_for(view)  # unknown view -> WeightsError
        if view in self.view_builds:
            return self.view_builds[view]
        return Build(self.architecture, self.kind, dict(self.config))

    @property
    def display_size(self) -> int:
        return self.size or self.approx_size

    def candidate_filenames(self) -> list[str]:
        """File names under which a user may have stored this checkpoint (ours first, then upstream)."""
        names = [self.filename]
        for src in self.sources:
            if src.kind == "asset":
                continue
            base = (src.filename or src.url.split("?")[0]).rsplit("/", 1)[-1]
            if base and base not in names:
                names.append(base)
        return names

    def keymap_for(self, view: str | None) -> KeyMap:
        if view is None or view == "default":
            return self.keymap
        if view not in self.views:
            known = ", ".join(["default", *sorted(self.views)])
            raise WeightsError(f"weights {self.name!r} has no view {view!r}; known views: {known}")
        return self.views[view]


def default_registry_path() -> Path:
    """The toml shipped inside the package (a symlink to the repository's weights.toml)."""
    return Path(__file__).resolve().parent.parent / "weights.toml"


def registry_path() -> Path:
    env = os.environ.get(REGISTRY_ENV)
    return Path(env).expanduser() if env else default_registry_path()


def entries() -> list[WeightsEntry]:
    """All entries of the active registry, in file order."""
    return list(_load(str(registry_path())).values())


def entry(name: str) -> WeightsEntry:
    """The entry called `name`; a WeightsError listing close names otherwise."""
    table = _load(str(registry_path()))
    if name in table:
        return table[name]
    import difflib

    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else " Run `facefill weights list` to see them."
    raise WeightsError(f"unknown weights name {name!r}.{hint}")


def has_entry(name: str) -> bool:
    return name in _load(str(registry_path()))


def clear_cache() -> None:
    """Forget parsed registries (tests that rewrite a toml in place)."""
    _load.cache_clear()


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, WeightsEntry]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(
            f"weights registry {path} not found; reinstall facefill or unset {REGISTRY_ENV}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise WeightsError(f"weights registry {path} is not valid TOML: {exc}") from None
    table: dict[str, WeightsEntry] = {}
    for item in raw.get("weights", []):
        parsed = _parse_entry(item, path)
        if parsed.name in table:
            raise WeightsError(f"weights registry {path}: duplicate name {parsed.name!r}")
        table[parsed.name] = parsed
    return table


_KEYMAP_FIELDS = {"take", "flatten", "select_prefix", "strip_prefix", "drop"}
_BUILD_FIELDS = {"architecture", "kind", "config"}


def _parse_keymap(raw: dict, where: str, extra: set[str] = frozenset()) -> KeyMap:
    unknown = set(raw) - _KEYMAP_FIELDS - extra
    if unknown:
        raise WeightsError(f"{where}: unknown key-map field(s) {sorted(unknown)}")
    strip = raw.get("strip_prefix", ())
    return KeyMap(
        take=raw.get("take", ""),
        flatten=tuple(raw.get("flatten", ())),
        select_prefix=raw.get("select_prefix", ""),
        strip_prefix=(strip,) if isinstance(strip, str) else tuple(strip),
        drop=tuple(raw.get("drop", ())),
    )


def _parse_kind(raw: dict, where: str) -> str:
    kind = raw.get("kind", "module")
    if kind not in KINDS:
        raise WeightsError(f"{where}: kind must be one of {', '.join(KINDS)}")
    return kind


def _parse_source(raw: dict, where: str) -> Source:
    src = Source(
        hf=raw.get("hf", ""), filename=raw.get("filename", ""), revision=raw.get("revision", ""),
        url=raw.get("url", ""), asset=raw.get("asset", ""),
    )
    if sum(map(bool, (src.hf, src.url, src.asset))) != 1:
        raise WeightsError(f"{where}: a source needs exactly one of `hf`, `url` or `asset`")
    if src.hf and not (src.filename and _COMMIT.fullmatch(src.revision)):
        raise WeightsError(f"{where}: a Hub source needs `filename` and `revision` pinned to a 40-hex commit")
    return src


def _parse_entry(raw: dict, path: str) -> WeightsEntry:
    name = raw.get("name", "")
    where = f"weights registry {path}, entry {name or '?'}"
    if not _NAME.fullmatch(name):
        raise WeightsError(f"{where}: `name` must be lower-case letters, digits, '.', '_' or '-'")
    for required in ("description", "architecture", "filename", "format", "license", "upstream"):
        if not raw.get(required):
            raise WeightsError(f"{where}: missing `{required}`")
    if raw["format"] not in FORMATS:
        raise WeightsError(f"{where}: format must be one of {', '.join(FORMATS)}")
    sha = raw.get("sha256", "").lower()
    if sha and not _SHA256.fullmatch(sha):
        raise WeightsError(f"{where}: sha256 must be 64 hex digits or empty")
    sources = tuple(_parse_source(s, where) for s in raw.get("sources", []))
    tofu = bool(raw.get("trust_on_first_use", False))
    shipped = any(s.kind == "asset" for s in sources)  # installed with the code: trusted like it
    if sources and not sha and not tofu and not shipped:
        raise WeightsError(f"{where}: no sha256; set `trust_on_first_use = true` to allow downloading it")
    if not sources and not raw.get("manual"):
        raise WeightsError(f"{where}: no source; add `manual` telling users how to get the file")
    views: dict[str, KeyMap] = {}
    view_builds: dict[str, Build] = {}
    for view, table in raw.get("views", {}).items():
        view_where = f"{where}, view {view}"
        views[view] = _parse_keymap(table, view_where, extra=_BUILD_FIELDS)
        if _BUILD_FIELDS & set(table):
            view_builds[view] = Build(
                table.get("architecture", raw["architecture"]), _parse_kind(table, view_where),
                dict(table.get("config", {})),
            )
    return WeightsEntry(
        name=name,
        description=raw["description"],
        architecture=raw["architecture"],
        filename=raw["filename"],
        format=raw["format"],
        license=raw["license"],
        non_commercial=bool(raw.get("non_commercial", False)),
        upstream=raw["upstream"],
        sha256=sha,
        size=int(raw.get("size", 0)),
        approx_size=int(raw.get("approx_size", 0)),
        trust_on_first_use=tofu,
        sources=sources,
        manual=raw.get("manual", ""),
        keymap=_parse_keymap(raw.get("keymap", {}), where),
        views=views,
        kind=_parse_kind(raw, where),
        config=dict(raw.get("config", {})),
        view_builds=view_builds,
    )
