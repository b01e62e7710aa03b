/* test-secret.c — store, read and clear the password in a real Secret Service (gnome-keyring).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "dispatch-secret.h"

typedef struct
{
  GMainLoop *loop;
  GError    *error;
  gboolean   ok;
  char      *password;
} Wait;

static void
stored_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = dispatch_secret_store_finish (result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
looked_up_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Wait *wait = user_data;

  wait->password = dispatch_secret_lookup_finish (result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
cleared_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = dispatch_secret_clear_finish (result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
moved_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = dispatch_secret_move_finish (result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static char *
lookup (const char *host,
        guint       port,
        const char *user)
{
  Wait wait = { g_main_loop_new (NULL, FALSE) };

  dispatch_secret_lookup_async (host, port, user, NULL, looked_up_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);
  g_assert_no_error (wait.error);

  return wait.password;
}

static void
test_store_lookup_clear (void)
{
  Wait wait = { NULL };
  char *password;

  if (g_getenv ("DISPATCH_TEST_KEYRING") == NULL)
    {
      g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
      return;
    }

  wait.loop = g_main_loop_new (NULL, FALSE);
  dispatch_secret_store_async ("smtp.example.org", 587, "ann@example.org", "s3cret-Pa55word!",
                               NULL, stored_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);

  password = lookup ("smtp.example.org", 587, "ann@example.org");
  g_assert_cmpstr (password, ==, "s3cret-Pa55word!");
  dispatch_secret_free (password);

  /* Each attribute matters: another port or user finds nothing. */
  g_assert_null (lookup ("smtp.example.org", 465, "ann@example.org"));
  g_assert_null (lookup ("smtp.example.org", 587, "bob@example.org"));
  g_assert_null (lookup ("smtp.example.net", 587, "ann@example.org"));

  /* Storing again replaces. */
  dispatch_secret_store_async ("smtp.example.org", 587, "ann@example.org", "n3w-password",
                               NULL, stored_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  password = lookup ("smtp.example.org", 587, "ann@example.org");
  g_assert_cmpstr (password, ==, "n3w-password");
  dispatch_secret_free (password);

  dispatch_secret_clear_async ("smtp.example.org", 587, "ann@example.org", NULL, cleared_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
  g_assert_null (lookup ("smtp.example.org", 587, "ann@example.org"));

  /* Clearing what is not there is not an error. */
  dispatch_secret_clear_async ("smtp.example.org", 587, "ann@example.org", NULL, cleared_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_false (wait.ok);

  g_main_loop_unref (wait.loop);
}

/* An edited account keeps its password: from port 587 to 465, then to another user. */
static void
test_move (void)
{
  Wait wait = { NULL };
  char *password;

  if (g_getenv ("DISPATCH_TEST_KEYRING") == NULL)
    {
      g_test_skip ("needs a Secret Service (run through run-with-keyring.sh)");
      return;
    }

  wait.loop = g_main_loop_new (NULL, FALSE);
  dispatch_secret_store_async ("smtp.example.org", 587, "ann@example.org", "m0ving-Pa55word",
                               NULL, stored_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);

  dispatch_secret_move_async ("smtp.example.org", 587, "ann@example.org",
                              "smtp.example.org", 465, "ann@example.org",
                              NULL, moved_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);

  password = lookup ("smtp.example.org", 465, "ann@example.org");
  g_assert_cmpstr (password, ==, "m0ving-Pa55word");
  dispatch_secret_free (password);
  g_assert_null (lookup ("smtp.example.org", 587, "ann@example.org"));

  dispatch_secret_move_async ("smtp.example.org", 465, "ann@example.org",
                              "smtp.example.org", 465, "ann.example",
                              NULL, moved_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
  password = lookup ("smtp.example.org", 465, "ann.example");
  g_assert_cmpstr (password, ==, "m0ving-Pa55word");
  dispatch_secret_free (password);
  g_assert_null (lookup ("smtp.example.org", 465, "ann@example.org"));

  /* Nothing stored under the old server: nothing moved, nothing made up. */
  dispatch_secret_move_async ("smtp.example.org", 587, "ann@example.org",
                              "smtp.example.net", 587, "ann@example.org",
                              NULL, moved_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_false (wait.ok);
  g_assert_null (lookup ("smtp.example.net", 587, "ann@example.org"));

  dispatch_secret_clear_async ("smtp.example.org", 465, "ann.example", NULL, cleared_cb, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);

  g_main_loop_unref (wait.loop);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/secret/store-lookup-clear", test_store_lookup_clear);
  g_test_add_func ("/secret/move", test_move);

  return g_test_run ();
}
