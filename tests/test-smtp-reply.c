/* test-smtp-reply.c — the reply parser: well-formed, malformed, incomplete and oversized input.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-reply.h"

#define MAX_LINE DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH
#define MAX_LINES DISPATCH_SMTP_REPLY_MAX_LINES

/* Parses all of @wire as exactly one reply. */
static DispatchSmtpReply *
parse_whole (const char *wire)
{
  g_autoptr(GError) error = NULL;
  DispatchSmtpReply *reply;
  gsize consumed = 12345;

  reply = dispatch_smtp_reply_parse (wire, strlen (wire), &consumed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (consumed, ==, strlen (wire));

  return reply;
}

/* Asserts that @wire (of @length bytes) is refused with a protocol error mentioning @fragment. */
static void
assert_malformed (const char *wire,
                  gsize       length,
                  const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  gsize consumed = 12345;

  reply = dispatch_smtp_reply_parse (wire, length, &consumed, &error);
  g_assert_null (reply);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpuint (consumed, ==, 0);
  if (strstr (error->message, fragment) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", error->message, fragment);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
assert_incomplete (const char *wire,
                   gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  gsize consumed = 12345;

  reply = dispatch_smtp_reply_parse (wire, length, &consumed, &error);
  g_assert_no_error (error);
  g_assert_null (reply);
  g_assert_cmpuint (consumed, ==, 0);
}

static void
test_single_line (void)
{
  g_autoptr(DispatchSmtpReply) reply = parse_whole ("250 OK\r\n");
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);
  const char * const *lines = dispatch_smtp_reply_get_lines (reply);

  g_assert_cmpuint (dispatch_smtp_reply_get_code (reply), ==, 250);
  g_assert_cmpuint (dispatch_smtp_reply_get_class (reply), ==, 2);
  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (reply), ==, 1);
  g_assert_cmpstr (lines[0], ==, "OK");
  g_assert_null (lines[1]);
  g_assert_null (dispatch_smtp_reply_get_enhanced_code (reply));
  g_assert_cmpstr (text, ==, "OK");
  g_assert_cmpstr (wire, ==, "250 OK");
}

static void
test_multi_line (void)
{
  g_autoptr(DispatchSmtpReply) reply =
    parse_whole ("250-smtp.example.org Hello\r\n250-SIZE 1000\r\n250 PIPELINING\r\n");
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);
  const char * const *lines = dispatch_smtp_reply_get_lines (reply);

  g_assert_cmpuint (dispatch_smtp_reply_get_code (reply), ==, 250);
  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (reply), ==, 3);
  g_assert_cmpstr (lines[0], ==, "smtp.example.org Hello");
  g_assert_cmpstr (lines[1], ==, "SIZE 1000");
  g_assert_cmpstr (lines[2], ==, "PIPELINING");
  g_assert_null (lines[3]);
  g_assert_cmpstr (text, ==, "smtp.example.org Hello SIZE 1000 PIPELINING");
  g_assert_cmpstr (wire, ==, "250-smtp.example.org Hello\n250-SIZE 1000\n250 PIPELINING");
}

static void
test_no_text (void)
{
  static const struct { const char *wire; guint n_lines; const char *first, *last, *to_string; } cases[] = {
    { "250\r\n", 1, "", "", "250" },
    { "250 \r\n", 1, "", "", "250" },
    { "354\n", 1, "", "", "354" },
    { "250-first\r\n250\r\n", 2, "first", "", "250-first\n250" },
    { "250-\r\n250 last\r\n", 2, "", "last", "250-\n250 last" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DispatchSmtpReply) reply = parse_whole (cases[i].wire);
      g_autofree char *wire = dispatch_smtp_reply_to_string (reply);
      const char * const *lines = dispatch_smtp_reply_get_lines (reply);

      g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (reply), ==, cases[i].n_lines);
      g_assert_cmpstr (lines[0], ==, cases[i].first);
      g_assert_cmpstr (lines[cases[i].n_lines - 1], ==, cases[i].last);
      g_assert_cmpstr (wire, ==, cases[i].to_string);
    }

  {
    g_autoptr(DispatchSmtpReply) reply = parse_whole ("250-\r\n250 last\r\n");
    g_autofree char *text = dispatch_smtp_reply_get_text (reply);

    /* An empty line adds no stray space to the joined text. */
    g_assert_cmpstr (text, ==, "last");
  }
}

static void
test_bare_lf (void)
{
  g_autoptr(DispatchSmtpReply) lf = parse_whole ("250-a\n250 b\n");
  g_autoptr(DispatchSmtpReply) mixed = parse_whole ("250-a\r\n250-b\n250 c\r\n");
  g_autofree char *lf_wire = dispatch_smtp_reply_to_string (lf);
  g_autofree char *mixed_wire = dispatch_smtp_reply_to_string (mixed);

  g_assert_cmpstr (lf_wire, ==, "250-a\n250 b");
  g_assert_cmpstr (mixed_wire, ==, "250-a\n250-b\n250 c");
  g_assert_cmpstr (dispatch_smtp_reply_get_lines (lf)[1], ==, "b");
}

static void
test_back_to_back (void)
{
  const char *wire = "250-one\r\n250 two\r\n354 Go ahead\r\n221 2.0.0 Bye\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchSmtpReply) first = NULL;
  g_autoptr(DispatchSmtpReply) second = NULL;
  g_autoptr(DispatchSmtpReply) third = NULL;
  gsize consumed = 0;
  gsize pos = 0;

  first = dispatch_smtp_reply_parse (wire, strlen (wire), &consumed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, strlen ("250-one\r\n250 two\r\n"));
  g_assert_cmpuint (dispatch_smtp_reply_get_code (first), ==, 250);
  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (first), ==, 2);
  pos += consumed;

  second = dispatch_smtp_reply_parse (wire + pos, strlen (wire) - pos, &consumed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, strlen ("354 Go ahead\r\n"));
  g_assert_cmpuint (dispatch_smtp_reply_get_code (second), ==, 354);
  pos += consumed;

  /* The next reply is only partly there: incomplete, and the first two are unaffected. */
  assert_incomplete (wire + pos, strlen (wire) - pos - 1);

  third = dispatch_smtp_reply_parse (wire + pos, strlen (wire) - pos, &consumed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pos + consumed, ==, strlen (wire));
  g_assert_cmpuint (dispatch_smtp_reply_get_code (third), ==, 221);
  g_assert_cmpstr (dispatch_smtp_reply_get_enhanced_code (third), ==, "2.0.0");
}

static void
test_incomplete_every_split (void)
{
  static const char * const wires[] = {
    "250-smtp.example.org\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    "250-a\n250-b\r\n250\n",
    "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8  https://example.com/x\r\n",
  };

  for (guint w = 0; w < G_N_ELEMENTS (wires); w++)
    {
      const char *wire = wires[w];
      gsize total = strlen (wire);
      /* The same reply followed by the start of another must parse identically. */
      g_autofree char *followed = g_strconcat (wire, "221 Bye\r\n", NULL);

      for (gsize len = 0; len < total; len++)
        {
          /* A fresh heap copy of exactly @len bytes, so a read past the end is caught by
           * valgrind or ASan rather than hidden by the rest of the string. */
          g_autofree char *prefix = g_memdup2 (wire, MAX (len, 1));

          assert_incomplete (prefix, len);
        }

      for (gsize len = total; len <= strlen (followed); len++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(DispatchSmtpReply) reply = NULL;
          gsize consumed = 0;

          reply = dispatch_smtp_reply_parse (followed, len, &consumed, &error);
          g_assert_no_error (error);
          g_assert_nonnull (reply);
          g_assert_cmpuint (consumed, ==, total);
        }
    }
}

static void
test_empty_input (void)
{
  assert_incomplete ("", 0);
  assert_incomplete (NULL, 0);
}

static void
test_malformed (void)
{
  static const struct { const char *wire; const char *fragment; } cases[] = {
    { "\r\n", "three-digit code" },
    { "\n", "three-digit code" },
    { "25\r\n", "three-digit code" },
    { "2\r\n", "three-digit code" },
    { "abc ok\r\n", "three-digit code" },
    { "2x0 ok\r\n", "three-digit code" },
    { "25a ok\r\n", "three-digit code" },
    { " 250 ok\r\n", "three-digit code" },
    { "+250 ok\r\n", "three-digit code" },
    { "HTTP/1.1 400 Bad Request\r\n", "three-digit code" },
    { "050 ok\r\n", "first digit is not 2-5" },
    { "150 ok\r\n", "first digit is not 2-5" },
    { "650 ok\r\n", "first digit is not 2-5" },
    { "999 ok\r\n", "first digit is not 2-5" },
    { "260 ok\r\n", "second digit is not 0-5" },
    { "599 ok\r\n", "second digit is not 0-5" },
    { "250_ok\r\n", "not a space or a hyphen" },
    { "250\tok\r\n", "not a space or a hyphen" },
    { "2500 ok\r\n", "not a space or a hyphen" },
    { "250=ok\r\n", "not a space or a hyphen" },
    { "250-a\r\n251 b\r\n", "code 251 but the reply started with 250" },
    { "250-a\r\n550 b\r\n", "code 550 but the reply started with 250" },
    { "250-a\r\n250-b\r\n354 c\r\n", "Reply line 3 has code 354" },
    { "250-a\r\nnonsense\r\n", "Reply line 2 does not start" },
    { "250-a\r\n\r\n", "Reply line 2 does not start" },
    { "250 a\rb\r\n", "CR that does not end the line" },
    { "250 a\r\r\n", "CR that does not end the line" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_malformed (cases[i].wire, strlen (cases[i].wire), cases[i].fragment);

  /* NUL inside a line: the length is explicit, the bytes after it count. */
  assert_malformed ("250 a\0b\r\n", 9, "NUL");
  assert_malformed ("250-a\r\n25\0 b\r\n", 14, "NUL");

  /* Server bytes in an error message come out escaped and valid UTF-8. */
  assert_malformed ("\xff\xfe\x1b[31m\r\n", 9, "\\377\\376\\033[31m");
  assert_malformed ("250\xc3\xa9\r\n", 7, "\\303");
}

static char *
make_line (char        sep,
           gsize       length,
           const char *terminator)
{
  GString *line = g_string_new ("250");

  if (length > 3)
    g_string_append_c (line, sep);
  while (line->len < length)
    g_string_append_c (line, 'x');
  g_string_append (line, terminator);

  return g_string_free (line, FALSE);
}

static void
test_line_length_cap (void)
{
  g_autofree char *at_cap = make_line (' ', MAX_LINE, "\r\n");
  g_autofree char *at_cap_lf = make_line (' ', MAX_LINE, "\n");
  g_autofree char *over_cap = make_line (' ', MAX_LINE + 1, "\r\n");
  g_autofree char *over_cap_lf = make_line (' ', MAX_LINE + 1, "\n");
  g_autofree char *at_cap_open = make_line (' ', MAX_LINE, "");
  g_autofree char *at_cap_cr = make_line (' ', MAX_LINE, "\r");
  g_autofree char *over_cap_open = make_line (' ', MAX_LINE + 1, "");
  g_autofree char *over_cap_cr = make_line (' ', MAX_LINE + 1, "\r");
  g_autofree char *second_over = NULL;
  g_autofree char *second_over_open = NULL;
  g_autofree char *endless = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;

  reply = parse_whole (at_cap);
  g_assert_cmpuint (strlen (dispatch_smtp_reply_get_lines (reply)[0]), ==, MAX_LINE - 4);
  g_clear_pointer (&reply, dispatch_smtp_reply_unref);
  reply = parse_whole (at_cap_lf);

  assert_malformed (over_cap, strlen (over_cap), "longer than 4096 bytes");
  assert_malformed (over_cap_lf, strlen (over_cap_lf), "longer than 4096 bytes");

  /* The terminator has not arrived yet. Exactly at the cap (with or without the CR of the
   * coming CRLF) it still may; one byte over, the line can never be valid. */
  assert_incomplete (at_cap_open, strlen (at_cap_open));
  assert_incomplete (at_cap_cr, strlen (at_cap_cr));
  assert_malformed (over_cap_open, strlen (over_cap_open), "Reply line 1 is longer than 4096 bytes");
  assert_malformed (over_cap_cr, strlen (over_cap_cr), "longer than 4096 bytes");

  /* The cap counts per line, not per reply. */
  second_over = g_strconcat ("250-short\r\n", over_cap, NULL);
  second_over_open = g_strconcat ("250-short\r\n", over_cap_open, NULL);
  assert_malformed (second_over, strlen (second_over), "Reply line 2 is longer");
  assert_malformed (second_over_open, strlen (second_over_open), "Reply line 2 is longer");

  /* A server streaming one endless line is stopped without a newline ever arriving, and
   * whatever the bytes are: the cap is checked before any syntax. */
  endless = g_strnfill (1024 * 1024, 'A');
  assert_malformed (endless, strlen (endless), "longer than");
  assert_malformed (endless, MAX_LINE + 1, "longer than");
  assert_incomplete (endless, MAX_LINE);
}

static GString *
make_reply (guint    n_lines,
            gboolean finished)
{
  GString *wire = g_string_new (NULL);

  for (guint i = 1; i <= n_lines; i++)
    g_string_append_printf (wire, "250%cline %u\r\n", i == n_lines && finished ? ' ' : '-', i);

  return wire;
}

static void
test_line_count_cap (void)
{
  g_autoptr(GString) at_cap = make_reply (MAX_LINES, TRUE);
  g_autoptr(GString) over_cap = make_reply (MAX_LINES + 1, TRUE);
  g_autoptr(GString) below_cap_open = make_reply (MAX_LINES - 1, FALSE);
  g_autoptr(GString) at_cap_open = make_reply (MAX_LINES, FALSE);
  g_autoptr(DispatchSmtpReply) reply = NULL;
  g_autofree char *text = NULL;

  reply = parse_whole (at_cap->str);
  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (reply), ==, MAX_LINES);
  g_assert_cmpstr (dispatch_smtp_reply_get_lines (reply)[MAX_LINES - 1], ==, "line 128");
  text = dispatch_smtp_reply_get_text (reply);
  g_assert_true (g_str_has_suffix (text, "line 127 line 128"));

  assert_malformed (over_cap->str, over_cap->len, "more than 128 lines");
  /* 127 continuation lines may still end with a last one... */
  assert_incomplete (below_cap_open->str, below_cap_open->len);
  /* ...but a 128th that announces more cannot: refused before the 129th arrives. */
  assert_malformed (at_cap_open->str, at_cap_open->len, "more than 128 lines");
}

static void
test_enhanced_codes (void)
{
  static const struct { const char *wire; const char *enhanced; const char *text; } cases[] = {
    { "250 2.0.0 Ok: queued as 4XyZ\r\n", "2.0.0", "Ok: queued as 4XyZ" },
    { "550 5.1.1 <nobody@example.org>: Recipient address rejected\r\n", "5.1.1",
      "<nobody@example.org>: Recipient address rejected" },
    { "451 4.7.1 Try again later\r\n", "4.7.1", "Try again later" },
    { "452 4.5.3 Too many recipients\r\n", "4.5.3", "Too many recipients" },
    { "550 5.7.1\r\n", "5.7.1", "" },
    { "550 5.123.456 three-digit parts\r\n", "5.123.456", "three-digit parts" },
    { "421 4.4.2 Idle\r\n", "4.4.2", "Idle" },
    /* absent */
    { "250 OK\r\n", NULL, "OK" },
    { "354 End data with <CR><LF>.<CR><LF>\r\n", NULL, "End data with <CR><LF>.<CR><LF>" },
    /* class disagrees with the reply code: plain text, kept */
    { "250 5.1.1 odd server\r\n", NULL, "5.1.1 odd server" },
    { "550 2.0.0 odder\r\n", NULL, "2.0.0 odder" },
    { "354 3.0.0 no class 3 in RFC 3463\r\n", NULL, "3.0.0 no class 3 in RFC 3463" },
    /* not the RFC 3463 shape */
    { "550 5.1 short\r\n", NULL, "5.1 short" },
    { "550 5.1234.1 long subject\r\n", NULL, "5.1234.1 long subject" },
    { "550 5.1.1234 long detail\r\n", NULL, "5.1.1234 long detail" },
    { "550 5.7.8.9 four parts\r\n", NULL, "5.7.8.9 four parts" },
    { "550 5.7.8x glued\r\n", NULL, "5.7.8x glued" },
    { "550 5..8 empty\r\n", NULL, "5..8 empty" },
    { "550 .5.7.8 dot\r\n", NULL, ".5.7.8 dot" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DispatchSmtpReply) reply = parse_whole (cases[i].wire);
      g_autofree char *text = dispatch_smtp_reply_get_text (reply);

      g_assert_cmpstr (dispatch_smtp_reply_get_enhanced_code (reply), ==, cases[i].enhanced);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_gmail_auth_failure (void)
{
  /* What smtp.gmail.com answers to a wrong password. */
  const char *wire =
    "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "
    "a640c23a62f3a-a7a3c7ae4e2sm9001ab.3 - gsmtp\r\n";
  g_autoptr(DispatchSmtpReply) reply = parse_whole (wire);
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *as_string = dispatch_smtp_reply_to_string (reply);
  const char * const *lines = dispatch_smtp_reply_get_lines (reply);

  g_assert_cmpuint (dispatch_smtp_reply_get_code (reply), ==, 535);
  g_assert_true (dispatch_smtp_reply_is_permanent (reply));
  g_assert_cmpstr (dispatch_smtp_reply_get_enhanced_code (reply), ==, "5.7.8");
  /* get_lines keeps the codes; get_text drops them from every line. */
  g_assert_true (g_str_has_prefix (lines[0], "5.7.8 Username"));
  g_assert_true (g_str_has_prefix (lines[1], "5.7.8  https://"));
  g_assert_cmpstr (text, ==,
                   "Username and Password not accepted. For more information, go to "
                   "https://support.google.com/mail/?p=BadCredentials "
                   "a640c23a62f3a-a7a3c7ae4e2sm9001ab.3 - gsmtp");
  g_assert_cmpstr (as_string, ==,
                   "535-5.7.8 Username and Password not accepted. For more information, go to\n"
                   "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "
                   "a640c23a62f3a-a7a3c7ae4e2sm9001ab.3 - gsmtp");
}

static void
test_invalid_utf8 (void)
{
  g_autoptr(DispatchSmtpReply) reply = parse_whole ("550-5.1.1 caf\xe9 \xff\xfe\r\n550 5.1.1 ok\r\n");
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);

  /* The raw line keeps the server's bytes... */
  g_assert_cmpstr (dispatch_smtp_reply_get_lines (reply)[0], ==, "5.1.1 caf\xe9 \xff\xfe");
  /* ...what is meant for display does not. */
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_true (g_utf8_validate (wire, -1, NULL));
  g_assert_cmpstr (text, ==, "caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd ok");
  g_assert_true (g_str_has_prefix (wire, "550-5.1.1 caf\xef\xbf\xbd"));
}

static void
test_valid_utf8 (void)
{
  g_autoptr(DispatchSmtpReply) reply = parse_whole ("250 Grüße aus Köln ✉\r\n");
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);

  g_assert_cmpstr (text, ==, "Grüße aus Köln ✉");
  g_assert_cmpstr (wire, ==, "250 Grüße aus Köln ✉");
}

static void
test_classes (void)
{
  static const struct { guint code; guint klass; gboolean positive, transient, permanent; } cases[] = {
    { 220, 2, TRUE, FALSE, FALSE },
    { 250, 2, TRUE, FALSE, FALSE },
    { 334, 3, TRUE, FALSE, FALSE },
    { 354, 3, TRUE, FALSE, FALSE },
    { 421, 4, FALSE, TRUE, FALSE },
    { 451, 4, FALSE, TRUE, FALSE },
    { 535, 5, FALSE, FALSE, TRUE },
    { 554, 5, FALSE, FALSE, TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *wire = g_strdup_printf ("%u text\r\n", cases[i].code);
      g_autoptr(DispatchSmtpReply) parsed = parse_whole (wire);
      g_autoptr(DispatchSmtpReply) built = dispatch_smtp_reply_new (cases[i].code, NULL);
      DispatchSmtpReply *replies[] = { parsed, built };

      for (guint r = 0; r < G_N_ELEMENTS (replies); r++)
        {
          g_assert_cmpuint (dispatch_smtp_reply_get_code (replies[r]), ==, cases[i].code);
          g_assert_cmpuint (dispatch_smtp_reply_get_class (replies[r]), ==, cases[i].klass);
          g_assert_cmpint (dispatch_smtp_reply_is_positive (replies[r]), ==, cases[i].positive);
          g_assert_cmpint (dispatch_smtp_reply_is_transient (replies[r]), ==, cases[i].transient);
          g_assert_cmpint (dispatch_smtp_reply_is_permanent (replies[r]), ==, cases[i].permanent);
        }
    }
}

static void
test_new (void)
{
  const char * const lines[] = { "5.7.0 Authentication required", "see the docs", NULL };
  g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_reply_new (530, lines);
  g_autoptr(DispatchSmtpReply) bare = dispatch_smtp_reply_new (250, NULL);
  g_autoptr(DispatchSmtpReply) empty_array = NULL;
  const char * const no_lines[] = { NULL };
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *wire = dispatch_smtp_reply_to_string (reply);
  g_autofree char *bare_wire = dispatch_smtp_reply_to_string (bare);
  g_autofree char *bare_text = dispatch_smtp_reply_get_text (bare);

  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (reply), ==, 2);
  g_assert_cmpstr (dispatch_smtp_reply_get_enhanced_code (reply), ==, "5.7.0");
  g_assert_cmpstr (text, ==, "Authentication required see the docs");
  g_assert_cmpstr (wire, ==, "530-5.7.0 Authentication required\n530 see the docs");
  /* The lines are copied, not borrowed. */
  g_assert_true (dispatch_smtp_reply_get_lines (reply)[0] != lines[0]);

  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (bare), ==, 1);
  g_assert_cmpstr (dispatch_smtp_reply_get_lines (bare)[0], ==, "");
  g_assert_cmpstr (bare_wire, ==, "250");
  g_assert_cmpstr (bare_text, ==, "");

  empty_array = dispatch_smtp_reply_new (221, no_lines);
  g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (empty_array), ==, 1);

  /* What to_string gives back parses to the same reply. */
  {
    g_autofree char *crlf = NULL;
    g_autoptr(DispatchSmtpReply) again = NULL;
    g_auto(GStrv) parts = g_strsplit (wire, "\n", -1);
    g_autofree char *joined = g_strjoinv ("\r\n", parts);

    crlf = g_strconcat (joined, "\r\n", NULL);
    again = parse_whole (crlf);
    g_assert_cmpuint (dispatch_smtp_reply_get_code (again), ==, 530);
    g_assert_cmpstrv ((char **) dispatch_smtp_reply_get_lines (again), (char **) lines);
  }
}

static void
test_new_refuses_bad_code (void)
{
  if (g_test_subprocess ())
    {
      g_assert_null (dispatch_smtp_reply_new (199, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*code*");
}

static void
test_new_refuses_line_breaks (void)
{
  const char * const crlf[] = { "ok\r\nRSET", NULL };

  if (g_test_subprocess ())
    {
      g_assert_null (dispatch_smtp_reply_new (250, crlf));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*strpbrk*");
}

static void
test_boxed (void)
{
  g_autoptr(DispatchSmtpReply) reply = parse_whole ("250 OK\r\n");
  DispatchSmtpReply *copy;
  GValue value = G_VALUE_INIT;

  g_assert_true (G_TYPE_IS_BOXED (DISPATCH_TYPE_SMTP_REPLY));

  /* Copying a reply is taking a reference: the same object comes back. */
  copy = g_boxed_copy (DISPATCH_TYPE_SMTP_REPLY, reply);
  g_assert_true (copy == reply);
  g_boxed_free (DISPATCH_TYPE_SMTP_REPLY, copy);

  g_value_init (&value, DISPATCH_TYPE_SMTP_REPLY);
  g_value_set_boxed (&value, reply);
  g_assert_true (g_value_get_boxed (&value) == reply);
  g_value_unset (&value);

  g_assert_cmpuint (dispatch_smtp_reply_get_code (reply), ==, 250);
}

#define N_THREADS 4
#define N_ROUNDS  20000

static gpointer
ref_unref_thread (gpointer data)
{
  DispatchSmtpReply *reply = data;

  for (guint i = 0; i < N_ROUNDS; i++)
    {
      dispatch_smtp_reply_ref (reply);
      dispatch_smtp_reply_unref (reply);
    }

  dispatch_smtp_reply_unref (reply);

  return NULL;
}

static void
test_refcount_threads (void)
{
  DispatchSmtpReply *reply = dispatch_smtp_reply_new (250, NULL);
  GThread *threads[N_THREADS];

  /* Replies cross from the worker thread to the main context; the count must stay exact
   * when both sides hold and drop them at once. */
  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("ref-unref", ref_unref_thread, dispatch_smtp_reply_ref (reply));
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (dispatch_smtp_reply_get_code (reply), ==, 250);
  dispatch_smtp_reply_unref (reply);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/smtp-reply/single-line", test_single_line);
  g_test_add_func ("/smtp-reply/multi-line", test_multi_line);
  g_test_add_func ("/smtp-reply/no-text", test_no_text);
  g_test_add_func ("/smtp-reply/bare-lf", test_bare_lf);
  g_test_add_func ("/smtp-reply/back-to-back", test_back_to_back);
  g_test_add_func ("/smtp-reply/incomplete-every-split", test_incomplete_every_split);
  g_test_add_func ("/smtp-reply/empty-input", test_empty_input);
  g_test_add_func ("/smtp-reply/malformed", test_malformed);
  g_test_add_func ("/smtp-reply/line-length-cap", test_line_length_cap);
  g_test_add_func ("/smtp-reply/line-count-cap", test_line_count_cap);
  g_test_add_func ("/smtp-reply/enhanced-codes", test_enhanced_codes);
  g_test_add_func ("/smtp-reply/gmail-auth-failure", test_gmail_auth_failure);
  g_test_add_func ("/smtp-reply/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/smtp-reply/valid-utf8", test_valid_utf8);
  g_test_add_func ("/smtp-reply/classes", test_classes);
  g_test_add_func ("/smtp-reply/new", test_new);
  g_test_add_func ("/smtp-reply/new-refuses-bad-code", test_new_refuses_bad_code);
  g_test_add_func ("/smtp-reply/new-refuses-line-breaks", test_new_refuses_line_breaks);
  g_test_add_func ("/smtp-reply/boxed", test_boxed);
  g_test_add_func ("/smtp-reply/refcount-threads", test_refcount_threads);

  return g_test_run ();
}
