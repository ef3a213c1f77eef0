#!/usr/bin/env bash
# The SDK's tests against the oldest and the newest supported `kubernetes` client, on Python
# 3.11 and on the newest CPython this machine has. The sessions subclass the client's REST
# layer, so the supported range is what this run proves, not what a changelog promises
# (docs/compatibility.md says why the bounds are where they are).
#
#   hack/compat.sh                      # the matrix: {3.11, newest} x {oldest, newest}
#   COMPAT_PYTHONS=3.11 COMPAT_CLIENTS="37.0.1" hack/compat.sh   # one ad hoc combination
#
# COMPAT_PYTHONS: "3.11", "3.13", ... or "newest" (the highest 3.x above 3.11 found on PATH, in
#   pyenv or in /usr/bin; none found is reported and skipped, not failed).
# COMPAT_CLIENTS: "oldest" (the declared lower bound, hash-pinned below), "newest" (the pin in
#   requirements-dev.lock), or a version number (installed without hashes, the lock's pins as
#   constraints; one outside pyproject's range is tested all the same, and said so).
# Each combination gets a fresh virtualenv under COMPAT_DIR from the hash-pinned dev lock, the
# client under test and the project installed --no-deps -e; one summary line per combination,
# the failing tests' names on failure, exit status 1 if any combination failed.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-$(command -v uv || echo .tools/bin/uv)}
COMPAT_DIR=${COMPAT_DIR:-.tools/compat}
COMPAT_PYTHONS=${COMPAT_PYTHONS:-3.11 newest}
COMPAT_CLIENTS=${COMPAT_CLIENTS:-oldest newest}
COMPAT_WORKERS=${COMPAT_WORKERS:-2}
TESTS=(tests/sdk tests/test_headers.py tests/test_security_properties.py tests/compat)
export UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1 UV_PYTHON_DOWNLOADS=never
# The client is under test here, not the backend: the embedded server, whatever the caller set.
export CIMP_APISERVER=embedded

# The declared lower bound (pyproject: kubernetes>=37.0.0,<38), pinned by hash as the locks
# are. Regenerate with: echo kubernetes==X | uv pip compile - --no-deps --generate-hashes
OLDEST_CLIENT=37.0.0
OLDEST_PIN='kubernetes==37.0.0 --hash=sha256:60c6a7cb90627fcfff5610c61a79af55472f418f8c91ea5abdb5c851b466ae22 --hash=sha256:eb957f804fe462275b1757426427105c99e2110c65b902f0d44763bf3e802109'
NEWEST_CLIENT=$(sed -n 's/^kubernetes==\([^ ]*\).*/\1/p' requirements-dev.lock)

if [[ ! -x $UV ]] && ! command -v "$UV" >/dev/null; then
	echo "compat: uv not found (run \`make .tools/bin/uv\` or put uv on PATH)" >&2
	exit 2
fi

# CPython 3.<minor> from PATH (a pyenv shim that is not enabled fails the version check),
# pyenv's versions, or /usr/bin; prints its path, or nothing.
find_python() {
	local want=$1 candidate
	local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
	for candidate in "$(command -v "python$want" 2>/dev/null || true)" \
		$(printf '%s\n' "$pyenv_root"/versions/"$want".*/bin/"python$want" | sort -rV) \
		"/usr/local/bin/python$want" "/usr/bin/python$want"; do
		[[ -n $candidate && -x $candidate ]] || continue
		if [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == "$want" ]]; then
			echo "$candidate"
			return
		fi
	done
}

newest_python() {
	local minor found
	for minor in $(seq 20 -1 12); do
		found=$(find_python "3.$minor")
		if [[ -n $found ]]; then
			echo "$found"
			return
		fi
	done
}

mkdir -p "$COMPAT_DIR"
summary=()
failed=0
started=$SECONDS

for want_python in $COMPAT_PYTHONS; do
	if [[ $want_python == newest ]]; then
		python=$(newest_python)
	else
		python=$(find_python "$want_python")
	fi
	if [[ -z $python ]]; then
		summary+=("compat: python $want_python: skipped, no such interpreter on this machine (PATH, pyenv, /usr/bin)")
		continue
	fi
	py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

	for want_client in $COMPAT_CLIENTS; do
		case $want_client in
		oldest) client=$OLDEST_CLIENT ;;
		newest) client=$NEWEST_CLIENT ;;
		*) client=$want_client ;;
		esac
		name="py$py_version-kubernetes$client"
		venv="$COMPAT_DIR/$name"
		log="$COMPAT_DIR/$name.log"
		t0=$SECONDS
		rm -rf "$venv"
		note=
		{
			"$UV" venv --quiet --python "$python" "$venv" &&
				"$UV" pip install --quiet --python "$venv/bin/python" --require-hashes -r requirements-dev.lock &&
				if [[ $client == "$NEWEST_CLIENT" ]]; then
					: # the lock's own pin
				elif [[ $client == "$OLDEST_CLIENT" ]]; then
					"$UV" pip install --quiet --python "$venv/bin/python" --no-deps --require-hashes -r <(echo "$OLDEST_PIN")
				else
					# Any other version: its own new dependencies resolved, the lock's pins kept.
					"$UV" pip install --quiet --python "$venv/bin/python" "kubernetes==$client" \
						-c <(sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' requirements-dev.lock | grep -v '^kubernetes==')
				fi &&
				"$UV" pip install --quiet --python "$venv/bin/python" --no-deps -e . &&
				if [[ -f server/pyproject.toml ]]; then
					"$UV" pip install --quiet --python "$venv/bin/python" --no-deps -e server
				fi
		} >"$log" 2>&1 || {
			summary+=("compat: python $py_version kubernetes $client: FAILED to install (see $log)")
			failed=1
			tail -n 20 "$log" >&2
			continue
		}
		# The ends must satisfy every declared requirement (pyproject's range included); a
		# version tried by hand may lie outside it, which the summary then says.
		if ! "$UV" pip check --quiet --python "$venv/bin/python" >>"$log" 2>&1; then
			if [[ $client == "$OLDEST_CLIENT" || $client == "$NEWEST_CLIENT" ]]; then
				summary+=("compat: python $py_version kubernetes $client: FAILED, uv pip check (see $log)")
				failed=1
				tail -n 5 "$log" >&2
				continue
			fi
			note=", outside the declared requirements (uv pip check)"
		fi
		set +e
		"$venv/bin/python" -m pytest -q -n "$COMPAT_WORKERS" -p no:cacheprovider "${TESTS[@]}" >>"$log" 2>&1
		status=$?
		set -e
		result=$(grep -E '^=*.*[0-9]+ (passed|failed|error)' "$log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
		if [[ $status -eq 0 ]]; then
			summary+=("compat: python $py_version kubernetes $client: ok, ${result:-no result line} ($((SECONDS - t0)) s$note)")
		else
			summary+=("compat: python $py_version kubernetes $client: FAILED, ${result:-pytest exit $status} ($((SECONDS - t0)) s, log $log$note)")
			failed=1
			grep -E '^(FAILED|ERROR) ' "$log" | head -n 30 >&2 || true
		fi
	done
done

printf '%s\n' "${summary[@]}"
echo "compat: $((SECONDS - started)) s in all"
exit "$failed"
