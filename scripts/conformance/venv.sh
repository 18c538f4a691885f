# shellcheck shell=bash
# Sourced by the conformance runners beside this file (not run on its own).
#
# conformance_venv NAME PIN...
#   Makes sure a Python virtual environment holding exactly the pinned packages (`pkg==X.Y.Z`,
#   installed from PyPI with pip) exists under the cache directory, and sets VENV_PYTHON to its
#   interpreter. The directory name carries NAME, the Python version and a checksum of the pins,
#   so changing a pin builds a new environment and never reuses a stale one. Concurrent runs are
#   serialised with flock. Installation output goes to stderr; on failure the half-built
#   environment is removed and the function exits the script with status 2.
#
# Environment: PYTHON (default python3), SCIM_BRIDGE_CONFORMANCE_CACHE (default
#   ${XDG_CACHE_HOME:-$HOME/.cache}/scim-bridge/conformance).

conformance_venv() {
  local name=$1; shift
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 || { echo "conformance: $python not found" >&2; exit 2; }
  local cache="${SCIM_BRIDGE_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-bridge/conformance}"
  local pyver sum dir
  pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  sum=$(printf '%s\n' "$@" | sha256sum | cut -c1-12)
  dir="$cache/$name-py$pyver-$sum"
  mkdir -p "$cache"
  (
    flock 9
    if [ -f "$dir/.complete" ]; then exit 0; fi
    echo "conformance: installing $* into $dir" >&2
    rm -rf "$dir"
    "$python" -m venv "$dir" >&2 \
      || { echo "conformance: cannot create a venv with $python (Debian: apt-get install python3-venv)" >&2; rm -rf "$dir"; exit 2; }
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@" >&2 \
      || { echo "conformance: pip install $* failed" >&2; rm -rf "$dir"; exit 2; }
    touch "$dir/.complete"
  ) 9>"$cache/.lock-$name" || exit 2
  # shellcheck disable=SC2034  # read by the script that sources this file
  VENV_PYTHON="$dir/bin/python"
}
