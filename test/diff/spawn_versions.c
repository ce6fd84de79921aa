/* glibc keeps posix_spawn and posix_spawnp in two versions: GLIBC_2.2.5
 * runs an executable file without #! under /bin/sh, GLIBC_2.15 (what
 * programs linked today get) fails with ENOEXEC. A program linked against
 * each must get its own version's behaviour under the shim too.
 *   spawn_versions DIR      spawns DIR/script (no #!) through both versions
 *                           of both calls: prints each result and the
 *                           child's exit status
 *   spawn_versions --which  prints the object each version is bound to */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                     char *const[], char *const[]);
extern spawn_fn spawn_old, spawn_new, spawnp_old, spawnp_new;
__asm__(".symver spawn_old,posix_spawn@GLIBC_2.2.5");
__asm__(".symver spawn_new,posix_spawn@GLIBC_2.15");
__asm__(".symver spawnp_old,posix_spawnp@GLIBC_2.2.5");
__asm__(".symver spawnp_new,posix_spawnp@GLIBC_2.15");

static void run(const char *name, spawn_fn *fn, const char *path) {
  pid_t pid;
  char *argv[] = {(char *)path, NULL};
  int rc = fn(&pid, path, NULL, NULL, argv, environ);
  int status = -1;
  if (rc == 0) waitpid(pid, &status, 0);
  printf("%s: %s, child exit %d\n", name, rc ? strerror(rc) : "0", rc == 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  fflush(stdout);
}

static const char *object(void *fn) {
  Dl_info info;
  if (!dladdr(fn, &info) || !info.dli_fname) return "?";
  const char *slash = strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--which")) {
    printf("old %s new %s oldp %s newp %s\n", object((void *)spawn_old), object((void *)spawn_new),
           object((void *)spawnp_old), object((void *)spawnp_new));
    return 0;
  }
  if (argc != 2) { fprintf(stderr, "usage: spawn_versions DIR | --which\n"); return 2; }
  char path[4096];
  snprintf(path, sizeof path, "%s/script", argv[1]);
  FILE *f = fopen(path, "w");
  if (!f) { perror(path); return 1; }
  fputs("exit 7\n", f);
  fclose(f);
  chmod(path, 0755);
  run("posix_spawn@GLIBC_2.2.5", spawn_old, path);
  run("posix_spawn@GLIBC_2.15", spawn_new, path);
  run("posix_spawnp@GLIBC_2.2.5", spawnp_old, path);
  run("posix_spawnp@GLIBC_2.15", spawnp_new, path);
  return 0;
}
