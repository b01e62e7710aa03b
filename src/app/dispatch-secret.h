/* dispatch-secret.h — the account password in the Secret Service (libsecret), never elsewhere.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

/* Schema "io.github.dispatchmail.Dispatch.Password", attributes host, port and user. */
const SecretSchema *dispatch_secret_get_schema    (void);

void                dispatch_secret_store_async   (const char          *host,
                                                   guint                port,
                                                   const char          *user,
                                                   const char          *password,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean            dispatch_secret_store_finish  (GAsyncResult        *result,
                                                   GError             **error);

/* The password, or NULL without an error when none is stored. Free it with
 * dispatch_secret_free(), which wipes it. */
void                dispatch_secret_lookup_async  (const char          *host,
                                                   guint                port,
                                                   const char          *user,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
char               *dispatch_secret_lookup_finish (GAsyncResult        *result,
                                                   GError             **error);

/* TRUE when a password was removed; FALSE without an error when there was none. */
void                dispatch_secret_clear_async   (const char          *host,
                                                   guint                port,
                                                   const char          *user,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean            dispatch_secret_clear_finish  (GAsyncResult        *result,
                                                   GError             **error);

/* Carries the password of an edited account from the server it was stored for to the one the
 * account now names: stored under the new host, port and user, then removed from the old ones.
 * TRUE when one was moved; FALSE without an error when there was none to move. */
void                dispatch_secret_move_async    (const char          *old_host,
                                                   guint                old_port,
                                                   const char          *old_user,
                                                   const char          *new_host,
                                                   guint                new_port,
                                                   const char          *new_user,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean            dispatch_secret_move_finish   (GAsyncResult        *result,
                                                   GError             **error);

void                dispatch_secret_free          (char                *password);

G_END_DECLS
