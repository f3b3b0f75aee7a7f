/* The real node's pod sandbox process ("pause"): it holds the pod's namespaces, reaps the orphans
 * that land on it as PID 1, and exits at once on SIGINT or SIGTERM. Built static by tools/image.sh
 * and packed FROM scratch, because no registry is reachable here to pull the upstream one. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction term = {.sa_handler = on_term};
    struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &term, 0);
    sigaction(SIGTERM, &term, 0);
    sigaction(SIGCHLD, &child, 0);
    for (;;) {
        pause();
    }
}
