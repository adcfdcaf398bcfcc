#!/usr/bin/env bash
# The image's components in the build workflow: build them all at once (one failing does not stop
# the others), say per component whether it was built, fetched or already in the store, how long
# its own build took and what its closure weighs, and name the largest components with their
# levers when the image is over budget. The components, the budget and the levers come from the
# flake itself: packages.<host>.image-components-<arch> (image/components.nix, image/budget.nix).
#
#   components.sh build  FLAKE HOST ARCH STATE   nix build -L --keep-going of every component
#   components.sh table  STATE [IMAGE_BYTES]     the Markdown table for the job summary (also
#                                                after the build step was stopped by its timeout)
#   components.sh budget STATE IMAGE_BYTES       the budget line; over budget: the largest
#                                                components and their levers, and exit 1
#
# STATE is a directory the steps share. Needs bash, nix (2.8 or newer) and jq.
# Exit codes: 0 done, 1 a component failed or the image is over budget, 2 usage.
set -euo pipefail

usage() {
	echo "usage: components.sh build FLAKE HOST ARCH STATE | table STATE [IMAGE_BYTES] | budget STATE IMAGE_BYTES" >&2
	exit 2
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# closure_size PATH: the bytes of PATH and everything it refers to. `nix path-info --json` is an
# array up to Nix 2.18 and an object keyed by path after.
closure_size() {
	nix path-info -S --json "$1" | jq '[if type == "array" then .[] else to_entries[].value end][0].closureSize'
}

build() {
	[ $# -eq 4 ] || usage
	local flake=$1 host=$2 arch=$3 state=$4
	case $arch in x86_64 | aarch64) ;; *)
		echo "components.sh: architecture \"$arch\" is not one of the image's: x86_64, aarch64" >&2
		exit 2
		;;
	esac
	case $host in x86_64-linux | aarch64-linux) ;; *)
		echo "components.sh: build system \"$host\" is not one the flake builds on: x86_64-linux, aarch64-linux" >&2
		exit 2
		;;
	esac
	mkdir -p "$state"
	local agg="packages.$host.image-components-$arch"
	# One evaluation: each member's derivation name, .drv and output, the budget and its levers.
	nix eval --json "$flake#$agg" --apply 'c: {
		budget = c.budget;
		members = builtins.mapAttrs (n: d: { name = d.name; drv = d.drvPath; out = d.outPath; }) c.members;
	}' >"$state/components.json"
	printf '%s\n' "$arch" >"$state/arch"
	local names=() installables=()
	mapfile -t names < <(jq -r '.members | keys[]' "$state/components.json")
	for n in "${names[@]}"; do installables+=("$flake#packages.$host.$n-$arch"); done

	# Before: already in the store (restored from the Actions cache), to fetch, or to build.
	nix build --dry-run "${installables[@]}" 2>"$state/dry-run.txt" || { cat "$state/dry-run.txt" >&2; exit 1; }
	local n out drv before
	: >"$state/before.tsv"
	for n in "${names[@]}"; do
		out=$(jq -r --arg n "$n" '.members[$n].out' "$state/components.json")
		drv=$(jq -r --arg n "$n" '.members[$n].drv' "$state/components.json")
		if nix path-info "$out" >/dev/null 2>&1; then
			before="in store"
		elif awk '/will be built/ { s = 1; next } /will be fetched/ { s = 0; next } s && $1 == d { f = 1 } END { exit !f }' d="$drv" "$state/dry-run.txt"; then
			before="build"
		else
			before="fetch"
		fi
		printf '%s\t%s\n' "$n" "$before" >>"$state/before.tsv"
	done

	# All at once; each log line is shown and kept with the second it arrived, so that each
	# component's own build time can be read from its first and last line.
	local status=0 start
	start=$(date +%s)
	rm -f "$state/seconds" "$state/results.tsv"
	mkdir -p "$state/roots"
	nix build -L --keep-going --out-link "$state/roots/result" "${installables[@]}" 2>&1 |
		while IFS= read -r line; do
			printf '%s\n' "$line" >&2
			printf '%(%s)T %s\n' -1 "$line"
		done >"$state/build.log" || status=$?
	printf '%s\n' "$(($(date +%s) - start))" >"$state/seconds"
	collect "$state"
	table "$state" >&2
	if [ -s "$state/failed.txt" ]; then
		echo "failed (each derivation with its last log lines):" >&2
		cat "$state/failed.txt" >&2
	fi
	return "$status"
}

# collect STATE: per component, what happened, its own build time and its closure; then every
# derivation that did not finish. Also after the build step was stopped (its timeout): there is
# no "seconds" file then, and what had not finished is "unfinished".
collect() {
	local state=$1 arch names=() n out drv before stopped=
	arch=$(cat "$state/arch")
	mapfile -t names < <(jq -r '.members | keys[]' "$state/components.json")
	[ -s "$state/seconds" ] || stopped=1
	touch "$state/build.log"
	local prefix first last secs closure result
	: >"$state/results.tsv"
	for n in "${names[@]}"; do
		out=$(jq -r --arg n "$n" '.members[$n].out' "$state/components.json")
		drv=$(jq -r --arg n "$n" '.members[$n].drv' "$state/components.json")
		before=$(awk -F'\t' -v n="$n" '$1 == n { print $2 }' "$state/before.tsv")
		# nix -L prefixes a derivation's log lines with its name without the version.
		prefix=$(jq -r --arg n "$n" '.members[$n].name' "$state/components.json" | sed -E 's/-[0-9].*$//')
		first=$(awk -v p="$prefix> " 'index($0, p) == index($0, " ") + 1 { print $1; exit }' "$state/build.log")
		last=$(awk -v p="$prefix> " 'index($0, p) == index($0, " ") + 1 { t = $1 } END { print t }' "$state/build.log")
		secs=-
		if [ -n "$first" ]; then secs=$((last - first)); fi
		closure=-
		if nix path-info "$out" >/dev/null 2>&1; then
			closure=$(closure_size "$out")
			case $before in
			"in store") result="in store (cache)" ;;
			build) result=built ;;
			*) result=fetched ;;
			esac
		elif [ -n "$stopped" ]; then
			result="unfinished: the step was stopped"
		elif [ -n "$first" ] || grep -qF "building '$drv'" "$state/build.log"; then
			result=failed
		else
			result="not built: a dependency failed"
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$n-$arch" "$result" "$secs" "$closure" >>"$state/results.tsv"
	done
	# Every derivation that started building and has no output now, components or not (a
	# toolchain, a source), with its last log lines. (Nix 2.8 with --keep-going does not print
	# every failure's "builder for ... failed", so the store is asked.)
	: >"$state/failed.txt"
	local d o ok
	# Started builds, and the failures Nix names ("builder for '...' failed" up to 2.23,
	# "Cannot build '...'" after).
	for d in $(grep -oE "(building|builder for|Cannot build) '/nix/store/[^']*\.drv'" "$state/build.log" | grep -oE "/nix/store/[^']*\.drv" | sort -u); do
		ok=1
		for o in $(nix-store --query --outputs "$d" 2>/dev/null); do
			nix path-info "$o" >/dev/null 2>&1 || ok=0
		done
		if [ "$ok" = 0 ]; then
			prefix=$(basename "$d" .drv | cut -d- -f2- | sed -E 's/-[0-9].*$//')
			{
				echo "$d"
				awk -v p="$prefix> " 'index($0, p) == index($0, " ") + 1 { sub(/^[^ ]* /, ""); print "    " $0 }' "$state/build.log" | tail -n 10
			} >>"$state/failed.txt"
		fi
	done
}

table() {
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	local state=$1 image=${2:-}
	case $image in *[!0-9]*) image= ;; esac # no size (the image was not built): no budget line
	if [ ! -s "$state/results.tsv" ] && [ -s "$state/before.tsv" ]; then
		collect "$state" # the build step was stopped before it could
	fi
	[ -s "$state/results.tsv" ] || { echo "components.sh: $state has no results: the build step did not get that far" >&2; exit 1; }
	echo "| component | output | built or fetched | minutes (its own build) | closure |"
	echo "|---|---|---|---|---|"
	local n attr result secs closure m c
	while IFS=$'\t' read -r n attr result secs closure; do
		m=-
		if [ "$secs" != - ]; then m=$(awk -v s="$secs" 'BEGIN { printf "%.1f", s / 60 }'); fi
		c=-
		if [ "$closure" != - ]; then c=$(mib "$closure"); fi
		echo "| $n | \`$attr\` | $result | $m | $c |"
	done <"$state/results.tsv"
	echo
	if [ -s "$state/seconds" ]; then
		echo "All components: $(awk '{ printf "%.1f", $1 / 60 }' "$state/seconds") minutes wall time."
	else
		echo "**The build step was stopped (its timeout) before every component was done: what built is saved in the Actions cache, and the next run resumes from it.**"
	fi
	if [ -n "$image" ]; then
		echo
		budget_line "$state" "$image"
	fi
}

budget_line() {
	local max
	max=$(jq '.budget.maxMiB' "$1/components.json")
	if [ "$2" -gt $((max * 1048576)) ]; then
		echo "**Budget: the image is $(mib "$2") of $max MiB: over by $(mib $(($2 - max * 1048576))).**"
	else
		echo "Budget: the image is $(mib "$2") of $max MiB ($(mib $((max * 1048576 - $2))) to spare)."
	fi
}

# Over budget: each component's own share of the image (the store paths of its closure that no
# other component's closure holds), the shared rest, largest first, each with its lever.
budget() {
	[ $# -eq 2 ] || usage
	local state=$1 image=$2
	case $image in '' | *[!0-9]*) echo "components.sh budget: image size \"$image\" is not a number of bytes" >&2; exit 2 ;; esac
	budget_line "$state" "$image"
	local max
	max=$(jq '.budget.maxMiB' "$state/components.json")
	[ "$image" -gt $((max * 1048576)) ] || return 0
	local n out names=()
	mapfile -t names < <(jq -r '.members | keys[]' "$state/components.json")
	: >"$state/paths.tsv"
	for n in "${names[@]}"; do
		out=$(jq -r --arg n "$n" '.members[$n].out' "$state/components.json")
		# A component that did not build has no size to count (the build step named it).
		nix path-info "$out" >/dev/null 2>&1 || continue
		nix path-info -r --json "$out" |
			jq -r --arg n "$n" '(if type == "array" then .[] else (to_entries[] | .value + {path: .key}) end) | [$n, .path, .narSize] | @tsv' >>"$state/paths.tsv"
	done
	echo "Largest components (their own store paths; shared: what several of them link), with the lever for each:"
	awk -F'\t' '
		{ owners[$2] = owners[$2] == "" ? $1 : (index(" " owners[$2] " ", " " $1 " ") ? owners[$2] : owners[$2] " " $1); size[$2] = $3 }
		END {
			for (p in owners) { o = owners[p]; if (index(o, " ")) o = "shared"; total[o] += size[p] }
			for (o in total) printf "%d\t%s\n", total[o], o
		}' "$state/paths.tsv" | sort -rn | head -3 |
		while IFS=$'\t' read -r bytes n; do
			echo "- $n: $(mib "$bytes"): $(jq -r --arg n "$n" '.budget.levers[$n] // "no lever recorded in image/budget.nix"' "$state/components.json")"
		done
	return 1
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
build) build "$@" ;;
table) table "$@" ;;
budget) budget "$@" ;;
*) usage ;;
esac
