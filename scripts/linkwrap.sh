#!/bin/sh
# The linker cargo runs for this repository's programs (.cargo/config.toml,
# every Linux target): the real linker, then two size fixes lld cannot be
# asked for. POSIX sh and coreutils (od, tr, truncate) only.
#
# - Called by rustc as `cc` (the native build: gcc driver, lld behind it,
#   see build.rs) or as lld (`-flavor gnu ...`: the cross targets, whose
#   rustflags say `-C linker-flavor=ld.lld`); runs that linker as it is.
# - A static executable laid out by rawrt's linker.ld (`-T .../linker.ld`)
#   without any writable segment (nothing in .data/.bss/constructors, like
#   `hello`) is linked a second time with the script's data segment left
#   out: lld sizes the program header table from the script's PHDRS before
#   it drops the empty segment, which leaves a 56-byte hole after the
#   headers. The second link is kept only if it too has no writable
#   segment.
# - An executable without section headers (release: `-z nosectionheader`)
#   is cut after the last byte a segment loads: lld still reserves room for
#   the section header table it does not write (64 bytes per section).
#
# Little-endian 64-bit ELF on a little-endian host (the three targets here,
# from an x86_64 or aarch64 machine); anything else is left as linked.

if [ "${1-}" = -flavor ]; then real=rust-lld; else real=cc; fi
"$real" "$@" || exit

# Only `-o FILE` and `-T FILE` as separate arguments are recognised (as
# rustc and build.rs pass them); other spellings (`-Wl,-T,...`,
# `--script=`, `-oFILE`, response files) leave the program as linked.
out=
script=
prev=
for a do
    case $prev in
        -o) out=$a ;;
        -T) script=$a ;;
    esac
    prev=$a
done
[ -n "$out" ] && [ -f "$out" ] || exit 0

# num FILE OFFSET BYTES: an unsigned little-endian field, in decimal.
num() {
    od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# is_exec64 FILE: a little-endian 64-bit ET_EXEC, read on a little-endian host.
is_exec64() {
    [ "$(od -An -tx1 -N6 "$1" | tr -d ' \n')" = 7f454c460201 ] &&
        [ "$(printf '\001\000' | od -An -tu2 | tr -d ' \n')" = 1 ] &&
        [ "$(num "$1" 16 2)" = 2 ]
}

# loads FILE: "COUNT WRITABLE END" of its PT_LOAD segments (END: the file
# offset after the last byte any of them loads).
loads() {
    phoff=$(num "$1" 32 8)
    phentsize=$(num "$1" 54 2)
    phnum=$(num "$1" 56 2)
    count=0
    writable=0
    end=0
    i=0
    while [ "$i" -lt "$phnum" ]; do
        ph=$((phoff + i * phentsize))
        if [ "$(num "$1" "$ph" 4)" = 1 ]; then
            count=$((count + 1))
            [ $(($(num "$1" $((ph + 4)) 4) & 2)) = 0 ] || writable=$((writable + 1))
            e=$(($(num "$1" $((ph + 8)) 8) + $(num "$1" $((ph + 32)) 8)))
            [ "$e" -le "$end" ] || end=$e
        fi
        i=$((i + 1))
    done
    echo "$count $writable $end"
}

is_exec64 "$out" || exit 0

case $script in
    */linker.ld) ;;
    *) script= ;;
esac
set -- "$@" --rawrt-end
if [ -n "$script" ] && [ -f "$script" ]; then
    read -r count writable end <<EOF
$(loads "$out")
EOF
    if [ "$writable" = 0 ]; then
        # The script without its data segment: the segment's PHDRS line
        # and the page alignment go, the .data section goes but for the
        # array bounds assigned in it (it holds nothing; an empty output
        # section would still pad the end of text to its alignment), and
        # what else would have gone into the segment (an empty .bss) goes
        # to text.
        tmp_ld=$out.rawrt-text.ld
        tmp_out=$out.rawrt-text
        in_data=
        while IFS= read -r line || [ -n "$line" ]; do
            case $in_data$line in
                *PT_LOAD*'FLAGS(6)'* | *'ALIGN(CONSTANT(MAXPAGESIZE))'*) continue ;;
                *'.data : {') in_data=1; continue ;;
                1*'} :data') in_data=; continue ;;
                1*'_array_'*'= .;') ;;
                1*) continue ;;
                *' :data') line="${line% :data} :text" ;;
            esac
            printf '%s\n' "$line"
        done <"$script" >"$tmp_ld"
        prev=
        for a do
            [ "$a" = --rawrt-end ] && break
            case $prev in
                -o) b=$tmp_out ;;
                -T) b=$tmp_ld ;;
                *) b=$a ;;
            esac
            set -- "$@" "$b"
            prev=$a
        done
        # "$@" is now: the first link's arguments, --rawrt-end, the
        # second link's.
        while [ "$1" != --rawrt-end ]; do shift; done
        shift
        if "$real" "$@" 2>/dev/null && is_exec64 "$tmp_out"; then
            read -r count2 writable2 end2 <<EOF
$(loads "$tmp_out")
EOF
            if [ "$writable2" = 0 ] && [ "$count2" = "$count" ]; then
                mv -f "$tmp_out" "$out"
            fi
        fi
        rm -f "$tmp_out" "$tmp_ld"
    fi
fi

if [ "$(num "$out" 40 8)" = 0 ] && [ "$(num "$out" 60 2)" = 0 ]; then
    read -r count writable end <<EOF
$(loads "$out")
EOF
    size=$(($(wc -c <"$out")))
    if [ "$count" -gt 0 ] && [ "$end" -lt "$size" ]; then
        truncate -s "$end" "$out"
    fi
fi
exit 0
