/* fscrypt_dir DIR: makes the empty directory DIR encrypted (fscrypt v2
 * policy, AES-256-XTS contents, AES-256-CTS names) with a fresh random key
 * added to its filesystem, so files created in DIR hold ciphertext on disk.
 * The key stays added until the filesystem is unmounted.
 * Exit 0 done; 77 (the reason on the last line) where this kernel or
 * filesystem has no fscrypt; 1 on any other failure. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fscrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

static int unsupported(int e) { return e == EOPNOTSUPP || e == ENOTTY || e == ENOPKG || e == ENOSYS; }

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: fscrypt_dir DIR\n"); return 2; }
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (dir < 0) { perror(argv[1]); return 1; }

  struct {
    struct fscrypt_add_key_arg arg;
    unsigned char raw[FSCRYPT_MAX_KEY_SIZE];
  } k;
  memset(&k, 0, sizeof k);
  k.arg.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
  k.arg.raw_size = FSCRYPT_MAX_KEY_SIZE;
  if (getrandom(k.raw, sizeof k.raw, 0) != (ssize_t)sizeof k.raw) { perror("getrandom"); return 1; }
  if (ioctl(dir, FS_IOC_ADD_ENCRYPTION_KEY, &k) != 0) {
    int e = errno;
    printf("FS_IOC_ADD_ENCRYPTION_KEY: %s\n", strerror(e));
    if (unsupported(e)) { printf("kernel or filesystem without fscrypt v2 keys (%s)\n", strerror(e)); return 77; }
    return 1;
  }

  struct fscrypt_policy_v2 pol;
  memset(&pol, 0, sizeof pol);
  pol.version = FSCRYPT_POLICY_V2;
  pol.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
  pol.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
  pol.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
  memcpy(pol.master_key_identifier, k.arg.key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
  if (ioctl(dir, FS_IOC_SET_ENCRYPTION_POLICY, &pol) != 0) {
    int e = errno;
    printf("FS_IOC_SET_ENCRYPTION_POLICY: %s\n", strerror(e));
    if (unsupported(e) || e == EINVAL) {
      printf("no fscrypt v2 policy with AES-256-XTS here (%s; mkfs.ext4 -O encrypt?)\n", strerror(e));
      return 77;
    }
    return 1;
  }
  close(dir);
  return 0;
}
