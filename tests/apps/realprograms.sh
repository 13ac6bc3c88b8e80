#!/bin/sh
# realprograms.sh — real Debian programs at work, for the preload suite (issue 6): run it
# natively and under LD_PRELOAD=libgmp.so (which every child inherits) and compare stdout.
# Usage: realprograms.sh python|sqlite|make|git|xz|sort  (the figures: README).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../tests/apps" 2>/dev/null && pwd || echo "$here")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
case "$1" in
python)  # a thread per connection (socketserver), 40 client threads, a queue, a condition
  python3 "$src/pyserver.py" 40 50 2>/dev/null
  ;;
sqlite)  # file I/O, fsync, POSIX locks, an index, a second process on the same file
  sqlite3 t.db <<'SQL'
create table t(k integer primary key, v text);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)
  insert into t select i, printf('%06d', (i * 7919) % 100003) from n;
create index tv on t(v);
SQL
  sqlite3 t.db <<'SQL'
select count(*), sum(k), min(v), max(v) from t;
select count(*) from t where v like '%77%';
pragma integrity_check;
SQL
  ;;
make)  # make -j8: 64 targets, each a shell that writes a file; a target that fails
  for i in $(seq 1 64); do printf 'f%d:\n\t@echo %d > $@\n' "$i" "$i"; done > Makefile
  printf 'all: %s\n\t@cat f* | sort -n | tail -3\n\t@ls f* | wc -l\n' "$(seq -f 'f%g' 1 64 | tr '\n' ' ')" >> Makefile
  printf 'bad:\n\t@exit 3\n' >> Makefile
  make -s -j8 all
  make -s bad 2>/dev/null || echo "make bad: status $?"
  ;;
git)  # fixed dates: the same hashes; gc packs with 4 threads, grep searches with threads
  export GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b
  export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
  git init -q -b main r && cd r
  for c in 1 2 3 4 5; do
    for i in $(seq 1 100); do seq "$i" "$((i * c + 50))" > "file$i"; done
    git add . && git commit -qm "commit $c"
  done
  git -c pack.threads=4 gc -q --aggressive
  git log --format='%H %s'
  git -c grep.threads=4 grep -c '^77$' | sort | tail -3
  git fsck --no-progress 2>&1 | wc -l
  git count-objects -v | grep -E '^(count|in-pack|packs)'
  ;;
xz)  # xz -T4: four compressing threads with mutexes and conditions between them
  seq 1 3000000 > in
  xz -T4 --block-size=1MiB -c in > in.xz
  sha256sum < in.xz
  xz -d -T4 -c in.xz | cmp - in && echo "xz round trip ok"
  ;;
sort)  # GNU sort --parallel=4: threads that merge
  seq 1 1000000 | awk '{ print ($1 * 7919) % 1000003 }' > in
  sort -n --parallel=4 -S 50M in | sha256sum
  sort -n --parallel=4 -S 50M -u in | wc -l
  ;;
*)
  echo "usage: $0 python|sqlite|make|git|xz|sort" >&2
  exit 2
  ;;
esac
