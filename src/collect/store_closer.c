/*
 * store_closer.c — finishes the collector's files off the receive path.
 * Closing a file means fsync, close, rename from its temporary name to its
 * final one and fsync of the directory (store.c); the fsync of a file of
 * several hundred MB can take seconds on a real disk, and a worker stuck in
 * it would not read its UDP sockets, so every rotation would lose data.
 * The stores hand their finished files to this one thread instead and open
 * the next file at once. Files are closed in the order they were handed
 * over; a failure is logged and counted, and the temporary file removed
 * (its data is then lost: the log says which file).
 *
 * Ownership: the closer owns the file descriptors handed to it. drain()
 * waits until everything handed over is closed; free() drains, stops the
 * thread and frees.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/store.h"

#define CLOSER_PATH_MAX 4096

typedef struct closer_job {
    struct closer_job *next;
    int fd;
    bool fsync;
    char temp_path[CLOSER_PATH_MAX];
    char final_path[CLOSER_PATH_MAX];
} closer_job;

struct collect_store_closer {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job was queued, or stop */
    pthread_cond_t idle;     /* the queue became empty */
    closer_job *head, *tail;
    bool busy;               /* a job is being closed */
    bool stop;
    pthread_t thread;
    uint64_t files, errors;
    ipfix_log_fn log;
    void *log_context;
};

void collect_store_fsync_parent(const char *path) {
    char dir[CLOSER_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static ipfix_status finish_error(ipfix_error *err, const char *what, const char *path) {
    return ipfix_error_set(err, IPFIX_ERR_IO, 0, "store: file could not be completed",
                           "%s %.300s: %s; its data is lost", what, path, strerror(errno));
}

/* Complete or absent: the data is on disk before the file appears under
 * its final name; on failure the temporary file is removed. */
ipfix_status collect_store_finish_file(int fd, const char *temp_path, const char *final_path,
                                       bool fsync_data, ipfix_error *err) {
    ipfix_status st = IPFIX_OK;
    if (fsync_data && fsync(fd) < 0) st = finish_error(err, "fsync", temp_path);
    if (close(fd) < 0 && st == IPFIX_OK) st = finish_error(err, "close", temp_path);
    if (st == IPFIX_OK && rename(temp_path, final_path) < 0)
        st = finish_error(err, "rename", temp_path);
    if (st != IPFIX_OK) {
        unlink(temp_path);
        return st;
    }
    if (fsync_data) collect_store_fsync_parent(final_path);
    return IPFIX_OK;
}

static bool close_job(collect_store_closer *c, closer_job *j) {
    ipfix_error err;
    ipfix_error_clear(&err);
    if (collect_store_finish_file(j->fd, j->temp_path, j->final_path, j->fsync, &err) == IPFIX_OK)
        return true;
    if (c->log) {
        char line[640];
        snprintf(line, sizeof line, "%s (%s)", err.rule, err.detail);
        c->log(c->log_context, IPFIX_LOG_ERROR, line);
    }
    return false;
}

static void *closer_main(void *arg) {
    collect_store_closer *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->head && !c->stop) pthread_cond_wait(&c->work, &c->lock);
        if (!c->head) break; /* stop, nothing left */
        closer_job *j = c->head;
        c->head = j->next;
        if (!c->head) c->tail = NULL;
        c->busy = true;
        pthread_mutex_unlock(&c->lock);
        bool ok = close_job(c, j);
        free(j);
        pthread_mutex_lock(&c->lock);
        c->busy = false;
        if (ok) c->files++;
        else c->errors++;
        if (!c->head) pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

collect_store_closer *collect_store_closer_new(ipfix_log_fn log, void *log_context) {
    collect_store_closer *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->log = log;
    c->log_context = log_context;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->idle, NULL);
    if (pthread_create(&c->thread, NULL, closer_main, c) != 0) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->work);
        pthread_cond_destroy(&c->idle);
        free(c);
        return NULL;
    }
    return c;
}

ipfix_status collect_store_closer_submit(collect_store_closer *c, int fd, const char *temp_path,
                                         const char *final_path, bool fsync) {
    closer_job *j = calloc(1, sizeof *j);
    if (!j) return IPFIX_ERR_NOMEM;
    j->fd = fd;
    j->fsync = fsync;
    snprintf(j->temp_path, sizeof j->temp_path, "%s", temp_path);
    snprintf(j->final_path, sizeof j->final_path, "%s", final_path);
    pthread_mutex_lock(&c->lock);
    if (c->tail) c->tail->next = j;
    else c->head = j;
    c->tail = j;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->lock);
    return IPFIX_OK;
}

void collect_store_closer_drain(collect_store_closer *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    while (c->head || c->busy) pthread_cond_wait(&c->idle, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

void collect_store_closer_get_stats(collect_store_closer *c, uint64_t *files, uint64_t *errors) {
    pthread_mutex_lock(&c->lock);
    *files = c->files;
    *errors = c->errors;
    pthread_mutex_unlock(&c->lock);
}

void collect_store_closer_free(collect_store_closer *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->idle);
    free(c);
}
