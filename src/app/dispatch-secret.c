/* dispatch-secret.c — the account password in the Secret Service (libsecret), never elsewhere.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-secret.h"

const SecretSchema *
dispatch_secret_get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.dispatchmail.Dispatch.Password",
    SECRET_SCHEMA_NONE,
    {
      { "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "port", SECRET_SCHEMA_ATTRIBUTE_INTEGER },
      { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

static void
store_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
dispatch_secret_store_async (const char          *host,
                             guint                port,
                             const char          *user,
                             const char          *password,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (host != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (password != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dispatch_secret_store_async);

  /* Translators: the name of the password in the keyring: "Dispatch: ann@example.org on smtp.example.org:587" */
  label = g_strdup_printf (_("Dispatch: %s on %s:%u"), user, host, port);

  secret_password_store (dispatch_secret_get_schema (),
                         SECRET_COLLECTION_DEFAULT,
                         label,
                         password,
                         cancellable,
                         store_cb,
                         g_steal_pointer (&task),
                         "host", host,
                         "port", (int) port,
                         "user", user,
                         NULL);
}

gboolean
dispatch_secret_store_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_secret_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lookup_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  char *password;

  password = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
}

void
dispatch_secret_lookup_async (const char          *host,
                              guint                port,
                              const char          *user,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (host != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dispatch_secret_lookup_async);

  secret_password_lookup (dispatch_secret_get_schema (),
                          cancellable,
                          lookup_cb,
                          g_steal_pointer (&task),
                          "host", host,
                          "port", (int) port,
                          "user", user,
                          NULL);
}

char *
dispatch_secret_lookup_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_secret_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  gboolean removed;

  removed = secret_password_clear_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, removed);
}

void
dispatch_secret_clear_async (const char          *host,
                             guint                port,
                             const char          *user,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (host != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dispatch_secret_clear_async);

  secret_password_clear (dispatch_secret_get_schema (),
                         cancellable,
                         clear_cb,
                         g_steal_pointer (&task),
                         "host", host,
                         "port", (int) port,
                         "user", user,
                         NULL);
}

gboolean
dispatch_secret_clear_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_secret_clear_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Moving */

typedef struct
{
  char  *old_host;
  guint  old_port;
  char  *old_user;
  char  *new_host;
  guint  new_port;
  char  *new_user;
} MoveData;

static void
move_data_free (MoveData *data)
{
  g_free (data->old_host);
  g_free (data->old_user);
  g_free (data->new_host);
  g_free (data->new_user);
  g_free (data);
}

static void
move_cleared_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* The password is under the new server already: a copy left behind is untidy, not lost. */
  if (!dispatch_secret_clear_finish (result, &error) && error != NULL)
    g_debug ("The password under the old server could not be removed: %s", error->message);

  g_task_return_boolean (task, TRUE);
}

static void
move_stored_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MoveData *data = g_task_get_task_data (task);
  GCancellable *cancellable;
  g_autoptr(GError) error = NULL;

  /* Removed only once it is safe under the new server. */
  if (!dispatch_secret_store_finish (result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  cancellable = g_task_get_cancellable (task);
  dispatch_secret_clear_async (data->old_host, data->old_port, data->old_user,
                               cancellable, move_cleared_cb, g_steal_pointer (&task));
}

static void
move_looked_up_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MoveData *data = g_task_get_task_data (task);
  GCancellable *cancellable;
  g_autoptr(GError) error = NULL;
  char *password;

  password = dispatch_secret_lookup_finish (result, &error);

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (password == NULL)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }

  cancellable = g_task_get_cancellable (task);
  dispatch_secret_store_async (data->new_host, data->new_port, data->new_user, password,
                               cancellable, move_stored_cb, g_steal_pointer (&task));
  dispatch_secret_free (password);
}

void
dispatch_secret_move_async (const char          *old_host,
                            guint                old_port,
                            const char          *old_user,
                            const char          *new_host,
                            guint                new_port,
                            const char          *new_user,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MoveData *data;

  g_return_if_fail (old_host != NULL);
  g_return_if_fail (old_user != NULL);
  g_return_if_fail (new_host != NULL);
  g_return_if_fail (new_user != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, dispatch_secret_move_async);

  if (g_str_equal (old_host, new_host) && old_port == new_port && g_str_equal (old_user, new_user))
    {
      g_task_return_boolean (task, FALSE);
      return;
    }

  data = g_new0 (MoveData, 1);
  data->old_host = g_strdup (old_host);
  data->old_port = old_port;
  data->old_user = g_strdup (old_user);
  data->new_host = g_strdup (new_host);
  data->new_port = new_port;
  data->new_user = g_strdup (new_user);
  g_task_set_task_data (task, data, (GDestroyNotify) move_data_free);

  dispatch_secret_lookup_async (old_host, old_port, old_user, cancellable,
                                move_looked_up_cb, g_steal_pointer (&task));
}

gboolean
dispatch_secret_move_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == dispatch_secret_move_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
dispatch_secret_free (char *password)
{
  if (password != NULL)
    secret_password_free (password);
}
