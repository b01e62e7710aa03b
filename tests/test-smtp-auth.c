/* test-smtp-auth.c — SASL mechanisms against the RFC vectors, step by step, and the choice of one.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-auth.h"

/* Decodes a response for comparison with the clear text it should carry. */
static char *
decode (const char *base64,
        gsize      *length)
{
  gsize decoded_length = 0;
  guchar *decoded = g_base64_decode (base64, &decoded_length);

  *length = decoded_length;
  return (char *) decoded;
}

static void
assert_decodes_to (const char *base64,
                   const char *expected,
                   gsize       expected_length)
{
  g_autofree char *decoded = NULL;
  gsize length = 0;

  g_assert_nonnull (base64);
  decoded = decode (base64, &length);
  g_assert_cmpmem (decoded, length, expected, expected_length);
}

static void
assert_protocol_error (GError *error)
{
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpint (dispatch_error_get_stage (error), ==, DISPATCH_SMTP_STAGE_AUTH);
}

static void
test_supported (void)
{
  const char * const *supported = dispatch_smtp_auth_get_supported ();

  g_assert_nonnull (supported);
  g_assert_cmpuint (g_strv_length ((char **) supported), ==, 4);
  g_assert_true (g_strv_contains (supported, "XOAUTH2"));
  g_assert_true (g_strv_contains (supported, "PLAIN"));
  g_assert_true (g_strv_contains (supported, "LOGIN"));
  g_assert_true (g_strv_contains (supported, "CRAM-MD5"));

  g_assert_true (dispatch_smtp_auth_is_supported ("PLAIN"));
  g_assert_true (dispatch_smtp_auth_is_supported ("plain"));
  g_assert_true (dispatch_smtp_auth_is_supported ("Cram-Md5"));
  g_assert_false (dispatch_smtp_auth_is_supported ("GSSAPI"));
  g_assert_false (dispatch_smtp_auth_is_supported ("PLAIN "));
  g_assert_false (dispatch_smtp_auth_is_supported (""));
  g_assert_false (dispatch_smtp_auth_is_supported (NULL));
}

static void
test_new_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchSmtpAuth) auth = NULL;

  auth = dispatch_smtp_auth_new ("plain", "tim", "secret", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dispatch_smtp_auth_get_mechanism (auth), ==, "PLAIN");
  g_assert_null (dispatch_smtp_auth_get_server_error (auth));
  g_clear_pointer (&auth, dispatch_smtp_auth_free);

  auth = dispatch_smtp_auth_new ("GSSAPI", "tim", "secret", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "GSSAPI"));
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("PLAIN", "", "secret", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "user name"));
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("PLAIN", "tim\xff", "secret", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("LOGIN", "tim", "", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "password"));
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("PLAIN", "tim", NULL, &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("PLAIN", NULL, "secret", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("XOAUTH2", "tim@example.com", "", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "token"));
  g_clear_error (&error);

  /* ^A is XOAUTH2's field separator. */
  auth = dispatch_smtp_auth_new ("XOAUTH2", "tim@example.com", "tok\001en", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("XOAUTH2", "tim\001@example.com", "token", &error);
  g_assert_null (auth);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* A secret must never end up in an error message. */
  auth = dispatch_smtp_auth_new ("NTLM", "tim", "hunter2", &error);
  g_assert_null (auth);
  g_assert_null (strstr (error->message, "hunter2"));
}

/* RFC 4616, section 4, first example: authcid "tim", passwd "tanstaaftanstaaf", no authzid. */
static void
test_plain_rfc4616 (void)
{
  static const char expected[] = "\0tim\0tanstaaftanstaaf";
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("PLAIN", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);

  response = dispatch_smtp_auth_initial_response (auth);
  g_assert_cmpstr (response, ==, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  assert_decodes_to (response, expected, sizeof expected - 1);
  dispatch_smtp_auth_wipe_string (response);
}

static void
test_plain_utf8 (void)
{
  /* "jürgen@exämple.org" and "pässwörd€", spelled in bytes so the test does not depend on the
   * source file's encoding. */
  static const char user[] = "j\xc3\xbcrgen@ex\xc3\xa4mple.org";
  static const char password[] = "p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac";
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  gsize expected_length;
  char *response;

  auth = dispatch_smtp_auth_new ("PLAIN", user, password, &error);
  g_assert_no_error (error);

  expected_length = 1 + strlen (user) + 1 + strlen (password);
  expected = g_malloc0 (expected_length);
  memcpy (expected + 1, user, strlen (user));
  memcpy (expected + 1 + strlen (user) + 1, password, strlen (password));

  response = dispatch_smtp_auth_initial_response (auth);
  assert_decodes_to (response, expected, expected_length);
  dispatch_smtp_auth_wipe_string (response);
}

static void
test_plain_challenge_after_response (void)
{
  const char *challenges[] = { "", "Zm9v" };

  for (guint i = 0; i < G_N_ELEMENTS (challenges); i++)
    {
      g_autoptr(DispatchSmtpAuth) auth = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *answer = NULL;
      char *response;

      auth = dispatch_smtp_auth_new ("PLAIN", "tim", "tanstaaftanstaaf", &error);
      g_assert_no_error (error);

      response = dispatch_smtp_auth_initial_response (auth);
      dispatch_smtp_auth_wipe_string (response);

      answer = dispatch_smtp_auth_step (auth, challenges[i], &error);
      g_assert_null (answer);
      assert_protocol_error (error);
      g_assert_cmpstr (dispatch_error_get_reply (error), ==, i == 0 ? "334 " : "334 Zm9v");
    }
}

/* A caller that left the initial response off the AUTH line gets "334 " and answers it then,
 * once (RFC 4954). */
static void
test_plain_without_initial_response (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *again = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("PLAIN", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);

  response = dispatch_smtp_auth_step (auth, "", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response, ==, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  dispatch_smtp_auth_wipe_string (response);

  again = dispatch_smtp_auth_step (auth, "", &error);
  g_assert_null (again);
  assert_protocol_error (error);
}

static void
test_plain_first_challenge_not_empty (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;

  auth = dispatch_smtp_auth_new ("PLAIN", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);

  answer = dispatch_smtp_auth_step (auth, "Zm9v", &error);
  g_assert_null (answer);
  assert_protocol_error (error);
}

static void
test_login_sequence (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *extra = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("LOGIN", "tim@example.com", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dispatch_smtp_auth_get_mechanism (auth), ==, "LOGIN");

  g_assert_null (dispatch_smtp_auth_initial_response (auth));

  /* "Username:" */
  response = dispatch_smtp_auth_step (auth, "VXNlcm5hbWU6", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response, ==, "dGltQGV4YW1wbGUuY29t");
  dispatch_smtp_auth_wipe_string (response);

  /* "Password:" */
  response = dispatch_smtp_auth_step (auth, "UGFzc3dvcmQ6", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response, ==, "dGFuc3RhYWZ0YW5zdGFhZg==");
  dispatch_smtp_auth_wipe_string (response);

  extra = dispatch_smtp_auth_step (auth, "VXNlcm5hbWU6", &error);
  g_assert_null (extra);
  assert_protocol_error (error);
}

/* The order of the challenges decides, not their text: some servers word or localise the
 * prompts differently, and a server asking "Password:" first gets the user name all the same. */
static void
test_login_ignores_prompt_text (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("LOGIN", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);

  response = dispatch_smtp_auth_step (auth, "UGFzc3dvcmQ6", &error);
  g_assert_no_error (error);
  assert_decodes_to (response, "tim", 3);
  dispatch_smtp_auth_wipe_string (response);

  /* An empty challenge is valid base64 too. */
  response = dispatch_smtp_auth_step (auth, "", &error);
  g_assert_no_error (error);
  assert_decodes_to (response, "tanstaaftanstaaf", 16);
  dispatch_smtp_auth_wipe_string (response);
}

/* RFC 2195, section 2. */
static void
test_cram_md5_rfc2195 (void)
{
  static const char expected[] = "tim b913a602c7eda7a495b4e6e7334d3890";
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *challenge = NULL;
  g_autofree char *extra = NULL;
  char *response;

  challenge = g_base64_encode ((const guchar *) "<1896.697170952@postoffice.reston.mci.net>",
                               strlen ("<1896.697170952@postoffice.reston.mci.net>"));
  g_assert_cmpstr (challenge, ==, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");

  auth = dispatch_smtp_auth_new ("CRAM-MD5", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);
  g_assert_null (dispatch_smtp_auth_initial_response (auth));

  response = dispatch_smtp_auth_step (auth, challenge, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response, ==, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  assert_decodes_to (response, expected, sizeof expected - 1);
  dispatch_smtp_auth_wipe_string (response);

  extra = dispatch_smtp_auth_step (auth, challenge, &error);
  g_assert_null (extra);
  assert_protocol_error (error);
}

static void
test_cram_md5_empty_challenge (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;

  auth = dispatch_smtp_auth_new ("CRAM-MD5", "tim", "tanstaaftanstaaf", &error);
  g_assert_no_error (error);

  answer = dispatch_smtp_auth_step (auth, "", &error);
  g_assert_null (answer);
  assert_protocol_error (error);
}

/* The layout Google and Microsoft document, with their example user and token. */
static void
test_xoauth2_format (void)
{
  static const char expected[] =
    "user=someuser@example.com" "\001"
    "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg" "\001" "\001";
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("xoauth2", "someuser@example.com",
                                 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dispatch_smtp_auth_get_mechanism (auth), ==, "XOAUTH2");

  response = dispatch_smtp_auth_initial_response (auth);
  g_assert_cmpstr (response, ==,
                   "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  assert_decodes_to (response, expected, sizeof expected - 1);
  dispatch_smtp_auth_wipe_string (response);

  g_assert_null (dispatch_smtp_auth_get_server_error (auth));
}

static void
test_xoauth2_error_challenge (void)
{
  static const char json[] = "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}";
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *challenge = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *extra = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("XOAUTH2", "someuser@example.com", "expired-token", &error);
  g_assert_no_error (error);

  response = dispatch_smtp_auth_initial_response (auth);
  dispatch_smtp_auth_wipe_string (response);

  challenge = g_base64_encode ((const guchar *) json, strlen (json));
  answer = dispatch_smtp_auth_step (auth, challenge, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, "");
  g_assert_cmpstr (dispatch_smtp_auth_get_server_error (auth), ==, json);

  /* The server's next word is its final 535; another challenge is out of order. */
  extra = dispatch_smtp_auth_step (auth, challenge, &error);
  g_assert_null (extra);
  assert_protocol_error (error);
  g_assert_cmpstr (dispatch_smtp_auth_get_server_error (auth), ==, json);
}

static void
test_xoauth2_without_initial_response (void)
{
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;
  char *response;

  auth = dispatch_smtp_auth_new ("XOAUTH2", "u", "t", &error);
  g_assert_no_error (error);

  /* Before the response, only an empty challenge makes sense. */
  answer = dispatch_smtp_auth_step (auth, "Zm9v", &error);
  g_assert_null (answer);
  assert_protocol_error (error);
  g_clear_pointer (&auth, dispatch_smtp_auth_free);
  g_clear_error (&error);

  auth = dispatch_smtp_auth_new ("XOAUTH2", "u", "t", &error);
  g_assert_no_error (error);
  response = dispatch_smtp_auth_step (auth, "", &error);
  g_assert_no_error (error);
  assert_decodes_to (response, "user=u\001auth=Bearer t\001\001", 22);
  dispatch_smtp_auth_wipe_string (response);
}

static void
test_invalid_base64 (void)
{
  /* Characters outside the alphabet, broken quanta, misplaced or excess padding, whitespace. */
  const char *invalid[] = {
    "Zm9v!", "Zm9", "Zm9vY", "Zm=v", "=Zm9", "Zg=a", "Z===", "Zm9v====", "Zm9v\n", " Zm9v",
    "Zm9v ", "Zm 9v", "Zm9-", "Zm9_", "VXNlcm5hbWU6\r", "\xc3\xa4\xc3\xa4",
    "\xff\xfe==",
  };
  const char *valid[] = { "", "Zg==", "Zm8=", "Zm9v", "+/+/" };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      const char *mechanisms[] = { "LOGIN", "CRAM-MD5", "PLAIN", "XOAUTH2" };

      for (guint m = 0; m < G_N_ELEMENTS (mechanisms); m++)
        {
          g_autoptr(DispatchSmtpAuth) auth = NULL;
          g_autoptr(GError) error = NULL;
          g_autofree char *answer = NULL;

          auth = dispatch_smtp_auth_new (mechanisms[m], "tim", "tanstaaftanstaaf", &error);
          g_assert_no_error (error);

          answer = dispatch_smtp_auth_step (auth, invalid[i], &error);
          g_assert_null (answer);
          assert_protocol_error (error);
          g_assert_nonnull (strstr (error->message, "base64"));
          /* The reply quoted in the error is shown to people: it must be text. */
          g_assert_true (g_utf8_validate (dispatch_error_get_reply (error), -1, NULL));
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr(DispatchSmtpAuth) auth = NULL;
      g_autoptr(GError) error = NULL;
      char *answer;

      auth = dispatch_smtp_auth_new ("LOGIN", "tim", "tanstaaftanstaaf", &error);
      g_assert_no_error (error);

      answer = dispatch_smtp_auth_step (auth, valid[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (answer, ==, "dGlt");
      dispatch_smtp_auth_wipe_string (answer);
    }
}

static void
test_choose_encrypted (void)
{
  const char *all[] = { "LOGIN", "CRAM-MD5", "PLAIN", "XOAUTH2", NULL };
  const char *no_plain[] = { "CRAM-MD5", "LOGIN", NULL };
  const char *cram_only[] = { "CRAM-MD5", NULL };
  const char *lower[] = { "login", "plain", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (dispatch_smtp_auth_choose (all, NULL, FALSE, TRUE, &error), ==, "PLAIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (no_plain, NULL, FALSE, TRUE, &error), ==, "LOGIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (cram_only, NULL, FALSE, TRUE, &error), ==, "CRAM-MD5");
  g_assert_cmpstr (dispatch_smtp_auth_choose (lower, NULL, FALSE, TRUE, &error), ==, "PLAIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (all, "", FALSE, TRUE, &error), ==, "PLAIN");
  g_assert_no_error (error);
}

static void
test_choose_clear (void)
{
  const char *all[] = { "PLAIN", "LOGIN", "CRAM-MD5", NULL };
  const char *no_cram[] = { "LOGIN", "PLAIN", NULL };
  const char *login_only[] = { "LOGIN", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (dispatch_smtp_auth_choose (all, NULL, FALSE, FALSE, &error), ==, "CRAM-MD5");
  g_assert_cmpstr (dispatch_smtp_auth_choose (no_cram, NULL, FALSE, FALSE, &error), ==, "PLAIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (login_only, NULL, FALSE, FALSE, &error), ==, "LOGIN");
  g_assert_no_error (error);
}

static void
test_choose_token (void)
{
  const char *with_xoauth2[] = { "PLAIN", "LOGIN", "XOAUTH2", NULL };
  const char *without_xoauth2[] = { "PLAIN", "LOGIN", NULL };
  const char *xoauth2_only[] = { "XOAUTH2", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (dispatch_smtp_auth_choose (with_xoauth2, NULL, TRUE, TRUE, &error), ==, "XOAUTH2");
  g_assert_cmpstr (dispatch_smtp_auth_choose (with_xoauth2, NULL, TRUE, FALSE, &error), ==, "XOAUTH2");
  g_assert_no_error (error);

  /* Without a token XOAUTH2 is never picked. */
  g_assert_cmpstr (dispatch_smtp_auth_choose (with_xoauth2, NULL, FALSE, TRUE, &error), ==, "PLAIN");
  g_assert_no_error (error);

  g_assert_null (dispatch_smtp_auth_choose (xoauth2_only, NULL, FALSE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "XOAUTH2"));
  g_assert_nonnull (dispatch_error_get_hint (error));
  g_clear_error (&error);

  /* A token is no password: no falling back to PLAIN with it. */
  g_assert_null (dispatch_smtp_auth_choose (without_xoauth2, NULL, TRUE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "PLAIN, LOGIN"));
  g_clear_error (&error);

  g_assert_null (dispatch_smtp_auth_choose (NULL, NULL, TRUE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
}

static void
test_choose_requested (void)
{
  const char *offered[] = { "PLAIN", "LOGIN", "XOAUTH2", NULL };
  g_autoptr(GError) error = NULL;

  /* The user's choice wins over the preference order, whatever the case it was typed in. */
  g_assert_cmpstr (dispatch_smtp_auth_choose (offered, "login", FALSE, TRUE, &error), ==, "LOGIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (offered, "LOGIN", FALSE, FALSE, &error), ==, "LOGIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (offered, "PLAIN", TRUE, TRUE, &error), ==, "PLAIN");
  g_assert_cmpstr (dispatch_smtp_auth_choose (offered, "XOAUTH2", TRUE, TRUE, &error), ==, "XOAUTH2");
  g_assert_no_error (error);

  /* Requested, supported, but not advertised: named, with what the server offers. */
  g_assert_null (dispatch_smtp_auth_choose (offered, "cram-md5", FALSE, FALSE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_cmpint (dispatch_error_get_stage (error), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_nonnull (strstr (error->message, "CRAM-MD5"));
  g_assert_nonnull (strstr (error->message, "PLAIN, LOGIN, XOAUTH2"));
  g_clear_error (&error);

  /* Requested but not one of ours. */
  g_assert_null (dispatch_smtp_auth_choose (offered, "GSSAPI", FALSE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "GSSAPI"));
  g_clear_error (&error);

  /* XOAUTH2 asked for without a token. */
  g_assert_null (dispatch_smtp_auth_choose (offered, "XOAUTH2", FALSE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "XOAUTH2"));
  g_clear_error (&error);

  /* Requested while the server offers nothing. */
  g_assert_null (dispatch_smtp_auth_choose (NULL, "PLAIN", FALSE, FALSE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "PLAIN"));
  g_assert_nonnull (dispatch_error_get_hint (error));
}

static void
test_choose_nothing_usable (void)
{
  const char *empty[] = { NULL };
  const char *foreign[] = { "GSSAPI", "NTLM", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_null (dispatch_smtp_auth_choose (empty, NULL, FALSE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_null (dispatch_error_get_hint (error));
  g_clear_error (&error);

  /* In clear, the likely cause (AUTH only after STARTTLS) is worth a hint. */
  g_assert_null (dispatch_smtp_auth_choose (NULL, NULL, FALSE, FALSE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (dispatch_error_get_hint (error));
  g_clear_error (&error);

  g_assert_null (dispatch_smtp_auth_choose (foreign, NULL, FALSE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "GSSAPI, NTLM"));
  g_clear_error (&error);

  g_assert_null (dispatch_smtp_auth_choose (foreign, NULL, TRUE, TRUE, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "GSSAPI, NTLM"));
}

static void
test_wipe_string (void)
{
  dispatch_smtp_auth_wipe_string (NULL);
  dispatch_smtp_auth_wipe_string (g_strdup (""));
  dispatch_smtp_auth_wipe_string (g_strdup ("tanstaaftanstaaf"));
  dispatch_smtp_auth_free (NULL);
}

/* Only a mechanism that ends with the next reply may be followed by pipelined commands. */
static void
test_completes_at_once (void)
{
  g_assert_true (dispatch_smtp_auth_completes_at_once ("PLAIN"));
  g_assert_true (dispatch_smtp_auth_completes_at_once ("plain"));
  g_assert_false (dispatch_smtp_auth_completes_at_once ("LOGIN"));
  g_assert_false (dispatch_smtp_auth_completes_at_once ("CRAM-MD5"));
  g_assert_false (dispatch_smtp_auth_completes_at_once ("XOAUTH2"));
  g_assert_false (dispatch_smtp_auth_completes_at_once ("SCRAM-SHA-256"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/smtp-auth/supported", test_supported);
  g_test_add_func ("/smtp-auth/new/errors", test_new_errors);
  g_test_add_func ("/smtp-auth/plain/rfc4616", test_plain_rfc4616);
  g_test_add_func ("/smtp-auth/plain/utf8", test_plain_utf8);
  g_test_add_func ("/smtp-auth/plain/challenge-after-response", test_plain_challenge_after_response);
  g_test_add_func ("/smtp-auth/plain/without-initial-response", test_plain_without_initial_response);
  g_test_add_func ("/smtp-auth/plain/first-challenge-not-empty", test_plain_first_challenge_not_empty);
  g_test_add_func ("/smtp-auth/login/sequence", test_login_sequence);
  g_test_add_func ("/smtp-auth/login/ignores-prompt-text", test_login_ignores_prompt_text);
  g_test_add_func ("/smtp-auth/cram-md5/rfc2195", test_cram_md5_rfc2195);
  g_test_add_func ("/smtp-auth/cram-md5/empty-challenge", test_cram_md5_empty_challenge);
  g_test_add_func ("/smtp-auth/xoauth2/format", test_xoauth2_format);
  g_test_add_func ("/smtp-auth/xoauth2/error-challenge", test_xoauth2_error_challenge);
  g_test_add_func ("/smtp-auth/xoauth2/without-initial-response", test_xoauth2_without_initial_response);
  g_test_add_func ("/smtp-auth/invalid-base64", test_invalid_base64);
  g_test_add_func ("/smtp-auth/choose/encrypted", test_choose_encrypted);
  g_test_add_func ("/smtp-auth/choose/clear", test_choose_clear);
  g_test_add_func ("/smtp-auth/choose/token", test_choose_token);
  g_test_add_func ("/smtp-auth/choose/requested", test_choose_requested);
  g_test_add_func ("/smtp-auth/choose/nothing-usable", test_choose_nothing_usable);
  g_test_add_func ("/smtp-auth/wipe-string", test_wipe_string);
  g_test_add_func ("/smtp-auth/completes-at-once", test_completes_at_once);

  return g_test_run ();
}
