/* test-account.c — the account value object: defaults, properties and notification, copy, validation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"

static const char pin[] =
  "3A:5F:0B:9C:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:12:34:56:78:9A:BC:DE:F0:01:23:45:67";

static void
test_defaults (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autofree char *host = NULL;
  g_autofree char *mechanism = NULL;
  DispatchSmtpSecurity security;
  guint timeout;

  g_assert_null (dispatch_account_get_host (account));
  g_assert_cmpuint (dispatch_account_get_port (account), ==, 0);
  g_assert_cmpint (dispatch_account_get_security (account), ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 587);
  g_assert_null (dispatch_account_get_user (account));
  g_assert_null (dispatch_account_get_auth_mechanism (account));
  g_assert_false (dispatch_account_get_allow_plaintext_auth (account));
  g_assert_cmpuint (dispatch_account_get_timeout (account), ==, DISPATCH_ACCOUNT_DEFAULT_TIMEOUT);
  g_assert_cmpuint (dispatch_account_get_timeout (account), ==, 60);
  g_assert_null (dispatch_account_get_ca_file (account));
  g_assert_null (dispatch_account_get_pinned_sha256 (account));
  g_assert_null (dispatch_account_get_helo_name (account));

  /* Properties read "" for an unset string, so GSettings bindings always have a value to write. */
  g_object_get (account,
                "host", &host,
                "auth-mechanism", &mechanism,
                "security", &security,
                "timeout", &timeout,
                NULL);
  g_assert_cmpstr (host, ==, "");
  g_assert_cmpstr (mechanism, ==, "");
  g_assert_cmpint (security, ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_cmpuint (timeout, ==, 60);

  g_assert_finalize_object (g_steal_pointer (&account));
}

static void
test_security_strings (void)
{
  const struct {
    DispatchSmtpSecurity security;
    const char *name;
    guint16 port;
  } cases[] = {
    { DISPATCH_SMTP_SECURITY_STARTTLS, "starttls", 587 },
    { DISPATCH_SMTP_SECURITY_TLS, "tls", 465 },
    { DISPATCH_SMTP_SECURITY_NONE, "none", 25 },
  };
  g_autoptr(GEnumClass) enum_class = g_type_class_ref (DISPATCH_TYPE_SMTP_SECURITY);
  DispatchSmtpSecurity security;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GEnumValue *value;

      g_assert_cmpstr (dispatch_smtp_security_to_string (cases[i].security), ==, cases[i].name);
      g_assert_cmpuint (dispatch_smtp_security_default_port (cases[i].security), ==, cases[i].port);

      security = -1;
      g_assert_true (dispatch_smtp_security_from_string (cases[i].name, &security));
      g_assert_cmpint (security, ==, cases[i].security);

      /* GSettings stores enums by nick: the nicks must be the same words. */
      value = g_enum_get_value (enum_class, cases[i].security);
      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_nick, ==, cases[i].name);
    }

  g_assert_true (dispatch_smtp_security_from_string ("STARTTLS", &security));
  g_assert_cmpint (security, ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_true (dispatch_smtp_security_from_string ("none", NULL));

  security = DISPATCH_SMTP_SECURITY_TLS;
  g_assert_false (dispatch_smtp_security_from_string ("ssl", &security));
  g_assert_false (dispatch_smtp_security_from_string ("", &security));
  g_assert_false (dispatch_smtp_security_from_string ("tls ", &security));
  g_assert_cmpint (security, ==, DISPATCH_SMTP_SECURITY_TLS);
}

static void
test_effective_port (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();

  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_TLS);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 465);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_NONE);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 25);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 587);

  dispatch_account_set_port (account, 2525);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 2525);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_TLS);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 2525);

  dispatch_account_set_port (account, 65535);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 65535);

  /* Out of range is never wrapped round to another port. */
  dispatch_account_set_port (account, 65536 + 25);
  g_assert_cmpuint (dispatch_account_get_port (account), ==, 65536 + 25);
  g_assert_cmpuint (dispatch_account_get_effective_port (account), ==, 0);

  g_assert_finalize_object (g_steal_pointer (&account));
}

typedef struct
{
  guint  count;
  char  *last;
} NotifyLog;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  NotifyLog *log = user_data;

  log->count++;
  g_free (log->last);
  log->last = g_strdup (pspec->name);
}

static void
assert_notified (NotifyLog  *log,
                 const char *name)
{
  g_assert_cmpuint (log->count, ==, 1);
  g_assert_cmpstr (log->last, ==, name);
  log->count = 0;
  g_clear_pointer (&log->last, g_free);
}

static void
assert_quiet (NotifyLog *log)
{
  g_assert_cmpuint (log->count, ==, 0);
}

static void
test_notify_setters (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  NotifyLog log = { 0, NULL };
  g_autofree char *buffer = NULL;

  g_signal_connect (account, "notify", G_CALLBACK (on_notify), &log);

  dispatch_account_set_host (account, "smtp.example.com");
  assert_notified (&log, "host");
  dispatch_account_set_host (account, "smtp.example.com");
  assert_quiet (&log);
  /* The same text from another buffer is no change either. */
  buffer = g_strdup ("smtp.example.com");
  dispatch_account_set_host (account, buffer);
  assert_quiet (&log);
  /* Setting a field to itself must not read freed memory. */
  dispatch_account_set_host (account, dispatch_account_get_host (account));
  assert_quiet (&log);
  dispatch_account_set_host (account, NULL);
  assert_notified (&log, "host");
  /* "" and NULL both mean "not set". */
  dispatch_account_set_host (account, "");
  assert_quiet (&log);
  g_assert_null (dispatch_account_get_host (account));

  dispatch_account_set_port (account, 465);
  assert_notified (&log, "port");
  dispatch_account_set_port (account, 465);
  assert_quiet (&log);

  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_STARTTLS);
  assert_quiet (&log);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_TLS);
  assert_notified (&log, "security");

  dispatch_account_set_user (account, "tim@example.com");
  assert_notified (&log, "user");
  dispatch_account_set_user (account, "tim@example.com");
  assert_quiet (&log);
  dispatch_account_set_user (account, "");
  assert_notified (&log, "user");
  g_assert_null (dispatch_account_get_user (account));

  dispatch_account_set_auth_mechanism (account, "PLAIN");
  assert_notified (&log, "auth-mechanism");
  dispatch_account_set_auth_mechanism (account, "PLAIN");
  assert_quiet (&log);

  dispatch_account_set_allow_plaintext_auth (account, FALSE);
  assert_quiet (&log);
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  assert_notified (&log, "allow-plaintext-auth");
  /* Any true value is the same TRUE. */
  dispatch_account_set_allow_plaintext_auth (account, 2);
  assert_quiet (&log);
  g_assert_true (dispatch_account_get_allow_plaintext_auth (account) == TRUE);

  dispatch_account_set_timeout (account, 60);
  assert_quiet (&log);
  dispatch_account_set_timeout (account, 30);
  assert_notified (&log, "timeout");

  dispatch_account_set_ca_file (account, "/etc/ssl/test-ca.pem");
  assert_notified (&log, "ca-file");
  dispatch_account_set_ca_file (account, "/etc/ssl/test-ca.pem");
  assert_quiet (&log);

  dispatch_account_set_pinned_sha256 (account, pin);
  assert_notified (&log, "pinned-sha256");
  dispatch_account_set_pinned_sha256 (account, pin);
  assert_quiet (&log);

  dispatch_account_set_helo_name (account, "laptop.example.com");
  assert_notified (&log, "helo-name");
  dispatch_account_set_helo_name (account, "laptop.example.com");
  assert_quiet (&log);
  dispatch_account_set_helo_name (account, NULL);
  assert_notified (&log, "helo-name");

  g_signal_handlers_disconnect_by_data (account, &log);
  g_assert_finalize_object (g_steal_pointer (&account));
  g_free (log.last);
}

/* The same through g_object_set(), which is what GSettings bindings and GtkBuilder use; with
 * G_PARAM_EXPLICIT_NOTIFY nothing is emitted unless the value changes. */
static void
test_notify_properties (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autofree GParamSpec **pspecs = NULL;
  NotifyLog log = { 0, NULL };
  guint n_pspecs = 0;

  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (account), &n_pspecs);
  g_assert_cmpuint (n_pspecs, ==, 10);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_assert_true (pspecs[i]->flags & G_PARAM_EXPLICIT_NOTIFY);
      g_assert_true (pspecs[i]->flags & G_PARAM_READWRITE);
    }
  g_assert_true (G_PARAM_SPEC_VALUE_TYPE (g_object_class_find_property (G_OBJECT_GET_CLASS (account), "security"))
                 == DISPATCH_TYPE_SMTP_SECURITY);
  g_assert_null (g_object_class_find_property (G_OBJECT_GET_CLASS (account), "password"));

  g_signal_connect (account, "notify", G_CALLBACK (on_notify), &log);

  g_object_set (account, "host", "smtp.example.com", NULL);
  assert_notified (&log, "host");
  g_object_set (account, "host", "smtp.example.com", NULL);
  assert_quiet (&log);

  g_object_set (account, "port", 2525u, NULL);
  assert_notified (&log, "port");
  g_object_set (account, "port", 2525u, NULL);
  assert_quiet (&log);

  g_object_set (account, "security", DISPATCH_SMTP_SECURITY_NONE, NULL);
  assert_notified (&log, "security");
  g_object_set (account, "security", DISPATCH_SMTP_SECURITY_NONE, NULL);
  assert_quiet (&log);

  g_object_set (account, "user", "tim", NULL);
  assert_notified (&log, "user");
  g_object_set (account, "user", "tim", NULL);
  assert_quiet (&log);

  g_object_set (account, "auth-mechanism", "LOGIN", NULL);
  assert_notified (&log, "auth-mechanism");
  g_object_set (account, "auth-mechanism", "LOGIN", NULL);
  assert_quiet (&log);

  g_object_set (account, "allow-plaintext-auth", TRUE, NULL);
  assert_notified (&log, "allow-plaintext-auth");
  g_object_set (account, "allow-plaintext-auth", TRUE, NULL);
  assert_quiet (&log);

  g_object_set (account, "timeout", 5u, NULL);
  assert_notified (&log, "timeout");
  g_object_set (account, "timeout", 5u, NULL);
  assert_quiet (&log);

  g_object_set (account, "ca-file", "/tmp/ca.pem", NULL);
  assert_notified (&log, "ca-file");
  g_object_set (account, "ca-file", "/tmp/ca.pem", NULL);
  assert_quiet (&log);

  g_object_set (account, "pinned-sha256", pin, NULL);
  assert_notified (&log, "pinned-sha256");
  g_object_set (account, "pinned-sha256", pin, NULL);
  assert_quiet (&log);

  g_object_set (account, "helo-name", "[192.0.2.1]", NULL);
  assert_notified (&log, "helo-name");
  g_object_set (account, "helo-name", "[192.0.2.1]", NULL);
  assert_quiet (&log);

  /* A cleared GSettings key arrives as "": it clears the field, and then it stays quiet. */
  g_object_set (account, "helo-name", "", NULL);
  assert_notified (&log, "helo-name");
  g_assert_null (dispatch_account_get_helo_name (account));
  g_object_set (account, "helo-name", "", NULL);
  assert_quiet (&log);
  g_object_set (account, "helo-name", NULL, NULL);
  assert_quiet (&log);

  /* One g_object_set() of several fields notifies each changed one once. */
  g_object_set (account, "host", "mail.example.org", "port", 2525u, "user", "kim", NULL);
  g_assert_cmpuint (log.count, ==, 2);
  log.count = 0;

  g_signal_handlers_disconnect_by_data (account, &log);
  g_assert_finalize_object (g_steal_pointer (&account));
  g_free (log.last);
}

static void
test_properties_round_trip (void)
{
  g_autoptr(DispatchAccount) account = NULL;
  g_autofree char *host = NULL;
  g_autofree char *user = NULL;
  g_autofree char *mechanism = NULL;
  g_autofree char *ca_file = NULL;
  g_autofree char *pinned = NULL;
  g_autofree char *helo = NULL;
  DispatchSmtpSecurity security;
  gboolean allow;
  guint port;
  guint timeout;

  account = g_object_new (DISPATCH_TYPE_ACCOUNT,
                          "host", "smtp.gmail.com",
                          "port", 587u,
                          "security", DISPATCH_SMTP_SECURITY_STARTTLS,
                          "user", "someone@gmail.com",
                          "auth-mechanism", "PLAIN",
                          "allow-plaintext-auth", FALSE,
                          "timeout", 90u,
                          "ca-file", "/etc/ssl/certs/ca-certificates.crt",
                          "pinned-sha256", pin,
                          "helo-name", "laptop.example.com",
                          NULL);

  g_assert_cmpstr (dispatch_account_get_host (account), ==, "smtp.gmail.com");
  g_assert_cmpuint (dispatch_account_get_timeout (account), ==, 90);

  g_object_get (account,
                "host", &host,
                "port", &port,
                "security", &security,
                "user", &user,
                "auth-mechanism", &mechanism,
                "allow-plaintext-auth", &allow,
                "timeout", &timeout,
                "ca-file", &ca_file,
                "pinned-sha256", &pinned,
                "helo-name", &helo,
                NULL);

  g_assert_cmpstr (host, ==, "smtp.gmail.com");
  g_assert_cmpuint (port, ==, 587);
  g_assert_cmpint (security, ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_cmpstr (user, ==, "someone@gmail.com");
  g_assert_cmpstr (mechanism, ==, "PLAIN");
  g_assert_false (allow);
  g_assert_cmpuint (timeout, ==, 90);
  g_assert_cmpstr (ca_file, ==, "/etc/ssl/certs/ca-certificates.crt");
  g_assert_cmpstr (pinned, ==, pin);
  g_assert_cmpstr (helo, ==, "laptop.example.com");

  g_assert_finalize_object (g_steal_pointer (&account));
}

static void
test_copy (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autoptr(DispatchAccount) copy = NULL;

  dispatch_account_set_host (account, "smtp.example.com");
  dispatch_account_set_port (account, 2525);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "tim");
  dispatch_account_set_auth_mechanism (account, "CRAM-MD5");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  dispatch_account_set_timeout (account, 15);
  dispatch_account_set_ca_file (account, "/tmp/ca.pem");
  dispatch_account_set_pinned_sha256 (account, pin);
  dispatch_account_set_helo_name (account, "[192.0.2.1]");

  copy = dispatch_account_copy (account);
  g_assert_true (copy != account);
  g_assert_cmpstr (dispatch_account_get_host (copy), ==, "smtp.example.com");
  g_assert_cmpuint (dispatch_account_get_port (copy), ==, 2525);
  g_assert_cmpint (dispatch_account_get_security (copy), ==, DISPATCH_SMTP_SECURITY_NONE);
  g_assert_cmpstr (dispatch_account_get_user (copy), ==, "tim");
  g_assert_cmpstr (dispatch_account_get_auth_mechanism (copy), ==, "CRAM-MD5");
  g_assert_true (dispatch_account_get_allow_plaintext_auth (copy));
  g_assert_cmpuint (dispatch_account_get_timeout (copy), ==, 15);
  g_assert_cmpstr (dispatch_account_get_ca_file (copy), ==, "/tmp/ca.pem");
  g_assert_cmpstr (dispatch_account_get_pinned_sha256 (copy), ==, pin);
  g_assert_cmpstr (dispatch_account_get_helo_name (copy), ==, "[192.0.2.1]");

  /* The copy owns its strings: changing or dropping one side leaves the other intact. */
  dispatch_account_set_host (copy, "other.example.com");
  dispatch_account_set_user (copy, NULL);
  g_assert_cmpstr (dispatch_account_get_host (account), ==, "smtp.example.com");
  g_assert_cmpstr (dispatch_account_get_user (account), ==, "tim");

  g_assert_finalize_object (g_steal_pointer (&account));
  g_assert_cmpstr (dispatch_account_get_helo_name (copy), ==, "[192.0.2.1]");
  g_assert_finalize_object (g_steal_pointer (&copy));

  /* Defaults survive a copy too. */
  account = dispatch_account_new ();
  copy = dispatch_account_copy (account);
  g_assert_null (dispatch_account_get_host (copy));
  g_assert_cmpuint (dispatch_account_get_timeout (copy), ==, DISPATCH_ACCOUNT_DEFAULT_TIMEOUT);
  g_assert_cmpint (dispatch_account_get_security (copy), ==, DISPATCH_SMTP_SECURITY_STARTTLS);
  g_assert_finalize_object (g_steal_pointer (&account));
  g_assert_finalize_object (g_steal_pointer (&copy));
}

static DispatchAccount *
valid_account (void)
{
  DispatchAccount *account = dispatch_account_new ();

  dispatch_account_set_host (account, "smtp.example.com");
  return account;
}

static void
assert_invalid (DispatchAccount *account,
                const char      *field)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (dispatch_account_validate (account, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  if (strstr (error->message, field) == NULL)
    g_error ("“%s” does not name the field “%s”", error->message, field);
}

static void
assert_valid (DispatchAccount *account)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (dispatch_account_validate (account, &error));
  g_assert_no_error (error);
}

static void
test_validate_host (void)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  const char *bad[] = {
    "smtp example.com", " smtp.example.com", "smtp.example.com ", "smtp.example.com\r\n",
    "smtp\t.example.com", "smtp.example.com\x7f", "smtp\xc2\xa0" "example.com", "smtp.\xff.com",
  };
  const char *good[] = {
    "smtp.example.com", "localhost", "127.0.0.1", "::1", "b\xc3\xbc" "cher.example",
  };
  g_autoptr(GError) error = NULL;

  assert_invalid (account, "server name");
  /* The unvalidated NULL error path must not crash either. */
  g_assert_false (dispatch_account_validate (account, NULL));

  dispatch_account_set_host (account, "");
  assert_invalid (account, "server name");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      dispatch_account_set_host (account, bad[i]);
      assert_invalid (account, "server name");
    }

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      dispatch_account_set_host (account, good[i]);
      assert_valid (account);
    }

  /* A hint on what to do comes with the message. */
  dispatch_account_set_host (account, NULL);
  g_assert_false (dispatch_account_validate (account, &error));
  g_assert_nonnull (dispatch_error_get_hint (error));
}

static void
test_validate_port (void)
{
  g_autoptr(DispatchAccount) account = valid_account ();

  dispatch_account_set_port (account, 0);
  assert_valid (account);
  dispatch_account_set_port (account, 1);
  assert_valid (account);
  dispatch_account_set_port (account, 65535);
  assert_valid (account);

  dispatch_account_set_port (account, 65536);
  assert_invalid (account, "port");
  dispatch_account_set_port (account, G_MAXUINT);
  assert_invalid (account, "port");
}

static void
test_validate_timeout (void)
{
  g_autoptr(DispatchAccount) account = valid_account ();

  dispatch_account_set_timeout (account, 1);
  assert_valid (account);
  dispatch_account_set_timeout (account, 0);
  assert_invalid (account, "timeout");
}

static void
test_validate_pin (void)
{
  g_autoptr(DispatchAccount) account = valid_account ();
  g_autofree char *plain = g_strnfill (64, 'a');
  g_autofree char *short_pin = g_strnfill (63, 'a');
  g_autofree char *long_pin = g_strnfill (65, 'a');
  g_autofree char *lower = g_ascii_strdown (pin, -1);
  const char *good[] = {
    pin,
    lower,
    plain,
    "3a5f0b9c 11223344 55667788 99aabbcc ddeeff00 12345678 9abcdef0 01234567",
    "  3A5F0B9C112233445566778899AABBCCDDEEFF00123456789ABCDEF001234567\n",
  };
  const char *bad[] = {
    short_pin,
    long_pin,
    "3A:5F:0B:9C:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:12:34:56:78:9A:BC:DE:F0:01:23:45:6G",
    "3A-5F-0B-9C-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD-EE-FF-00-12-34-56-78-9A-BC-DE-F0-01-23-45-67",
    "0x3A5F0B9C112233445566778899AABBCCDDEEFF00123456789ABCDEF001234567",
    ":::",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      dispatch_account_set_pinned_sha256 (account, good[i]);
      assert_valid (account);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      dispatch_account_set_pinned_sha256 (account, bad[i]);
      assert_invalid (account, "fingerprint");
    }

  dispatch_account_set_pinned_sha256 (account, NULL);
  assert_valid (account);
}

static void
test_validate_other_fields (void)
{
  g_autoptr(DispatchAccount) account = valid_account ();

  dispatch_account_set_helo_name (account, "[192.0.2.1]");
  assert_valid (account);
  dispatch_account_set_helo_name (account, "my laptop");
  assert_invalid (account, "EHLO name");
  dispatch_account_set_helo_name (account, "laptop\r\nRSET");
  assert_invalid (account, "EHLO name");
  dispatch_account_set_helo_name (account, NULL);

  dispatch_account_set_auth_mechanism (account, "cram-md5");
  assert_valid (account);
  dispatch_account_set_auth_mechanism (account, "GSSAPI");
  assert_invalid (account, "GSSAPI");
  dispatch_account_set_auth_mechanism (account, NULL);
  assert_valid (account);

  /* Not validation's business: the security mode alone never makes an account invalid. */
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "tim");
  assert_valid (account);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/account/defaults", test_defaults);
  g_test_add_func ("/account/security-strings", test_security_strings);
  g_test_add_func ("/account/effective-port", test_effective_port);
  g_test_add_func ("/account/notify/setters", test_notify_setters);
  g_test_add_func ("/account/notify/properties", test_notify_properties);
  g_test_add_func ("/account/properties/round-trip", test_properties_round_trip);
  g_test_add_func ("/account/copy", test_copy);
  g_test_add_func ("/account/validate/host", test_validate_host);
  g_test_add_func ("/account/validate/port", test_validate_port);
  g_test_add_func ("/account/validate/timeout", test_validate_timeout);
  g_test_add_func ("/account/validate/pin", test_validate_pin);
  g_test_add_func ("/account/validate/other-fields", test_validate_other_fields);

  return g_test_run ();
}
