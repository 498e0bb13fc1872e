#!/bin/bash
# Makes aarch64 programs run on this machine through qemu-user, as Docker
# Desktop and `docker run --privileged tonistiigi/binfmt` do elsewhere:
# binfmt_misc mounted, and an entry for aarch64 ELF files whose interpreter
# is qemu-aarch64-static, opened now (flag F) so that it also works inside
# containers, with argv[0] kept (flag P). Idempotent. Exits 0 when aarch64
# programs run, else 1 with one line why (for the tests' skip line).
set -u
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
qemu=$(command -v qemu-aarch64-static) || { echo "qemu-aarch64-static is not installed"; exit 1; }
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
    { echo "binfmt_misc cannot be mounted here (needs root and an unconfined mount)"; exit 1; }
fi
if [ ! -e "$entry" ]; then
  magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
  mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
  echo ":qemu-aarch64:M:0:$magic:$mask:$qemu:FP" >/proc/sys/fs/binfmt_misc/register 2>/dev/null ||
    { echo "binfmt_misc refused the qemu-aarch64 entry"; exit 1; }
fi
grep -qx enabled "$entry" || { echo "the binfmt_misc entry qemu-aarch64 is disabled"; exit 1; }
