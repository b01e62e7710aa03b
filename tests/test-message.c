/* test-message.c — DispatchMessage: validation, envelope, MIME structure and the wire form.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gmime/gmime.h>

#include "dispatch-engine.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)

/* Wire rules every message must keep (RFC 5321 §4.5.3.1.6, RFC 5322 §2.1.1). */
#define MAX_LINE 998

/* The start of a PNG file: the signature and an IHDR chunk; enough for content sniffing. */
static const guint8 png_head[] = {
  0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
  0x00, 0x00, 0x00, 0x0d, 'I', 'H', 'D', 'R',
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00,
  0x1f, 0x15, 0xc4, 0x89,
};


/* Helpers */

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("dispatch-test-message-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);

      g_chmod (path, 0600);
      g_remove (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static GFile *
write_file (Fixture    *fixture,
            const char *name,
            const void *data,
            gsize       len)
{
  g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);

  return g_file_new_for_path (path);
}

/* The window attaches GFiles, dispatch-send file names: tests that take this as their data
 * run once each way, and both must make the same message. */
enum
{
  ATTACH_FILE,
  ATTACH_PATH,
};

static void
attach (DispatchMessage *message,
        GFile           *file,
        gconstpointer    data)
{
  if (GPOINTER_TO_INT (data) == ATTACH_PATH)
    dispatch_message_add_attachment_path (message, g_file_peek_path (file));
  else
    dispatch_message_add_attachment (message, file);
}

static GBytes *
random_bytes (gsize len)
{
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = g_random_int_range (0, 256);

  return g_bytes_new_take (data, len);
}

static DispatchMessage *
new_message (void)
{
  DispatchMessage *message = dispatch_message_new ();

  dispatch_message_set_from (message, "Ann Example <ann@example.org>");
  dispatch_message_set_to (message, "Bob <bob@example.net>");
  dispatch_message_set_subject (message, "Hello");
  dispatch_message_set_text (message, "Hello Bob,\n\nsee you soon.\n");

  return message;
}

static void
prepare (DispatchMessage *message,
         gboolean         allow_8bit,
         gboolean         allow_utf8_headers)
{
  g_autoptr(GError) error = NULL;

  dispatch_message_prepare (message, allow_8bit, allow_utf8_headers, NULL, &error);
  g_assert_no_error (error);
}

static GBytes *
write_to_bytes (DispatchMessage *message,
                gboolean         dot_stuff)
{
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;

  dispatch_message_write (message, output, dot_stuff, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (output, NULL, &error);
  g_assert_no_error (error);

  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
}

static GMimeMessage *
parse_bytes (GBytes *bytes)
{
  g_autoptr(GMimeStream) stream = NULL;
  g_autoptr(GMimeParser) parser = NULL;
  GMimeMessage *parsed;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  stream = g_mime_stream_mem_new_with_buffer (data, len);
  parser = g_mime_parser_new_with_stream (stream);
  parsed = g_mime_parser_construct_message (parser, NULL);
  g_assert_nonnull (parsed);

  return parsed;
}

static GBytes *
decoded_content (GMimeObject *object)
{
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new ();
  GByteArray *array;

  g_assert_true (GMIME_IS_PART (object));
  g_assert_cmpint (g_mime_data_wrapper_write_to_stream (g_mime_part_get_content (GMIME_PART (object)),
                                                        stream), >=, 0);
  array = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (stream));

  return g_bytes_new (array->data, array->len);
}

static char *
mime_type_of (GMimeObject *object)
{
  return g_mime_content_type_get_mime_type (g_mime_object_get_content_type (object));
}

static char *
normalise_to_lf (const char *text)
{
  g_autoptr(GRegex) regex = g_regex_new ("\r\n?", 0, 0, NULL);

  return g_regex_replace_literal (regex, text, -1, 0, "\n", 0, NULL);
}

/* Every line ends in CRLF, no CR or LF stands alone, no line is longer than 998 octets. */
static void
assert_wire_form (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  gsize line_start = 0;

  g_assert_cmpuint (len, >=, 2);
  g_assert_cmpint (data[len - 2], ==, '\r');
  g_assert_cmpint (data[len - 1], ==, '\n');

  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\r')
        {
          g_assert_cmpuint (i + 1, <, len);
          g_assert_cmpint (data[i + 1], ==, '\n');
          g_assert_cmpuint (i - line_start, <=, MAX_LINE);
        }
      else if (data[i] == '\n')
        {
          g_assert_cmpuint (i, >, 0);
          g_assert_cmpint (data[i - 1], ==, '\r');
          line_start = i + 1;
        }
      g_assert_cmpint (data[i], !=, '\0');
    }
}

static gboolean
bytes_contain (GBytes     *bytes,
               const char *needle)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return g_strstr_len (data, len, needle) != NULL;
}

/* The header block, lower-cased, as one string. */
static char *
header_block (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  const char *end = g_strstr_len (data, len, "\r\n\r\n");

  g_assert_nonnull (end);

  return g_ascii_strdown (data, end - data + 2);
}

static gboolean
is_seven_bit (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  for (gsize i = 0; i < len; i++)
    if (data[i] >= 0x80)
      return FALSE;

  return TRUE;
}


/* Headers and envelope */

static void
test_headers (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  g_autofree char *from = NULL;
  g_autofree char *headers = NULL;
  const char *subject = "Grüße aus Köln — “quotes” ✓ and a longer tail to make GMime fold the line";
  InternetAddressList *to, *cc;
  InternetAddressMailbox *mailbox;
  const char *message_id;

  dispatch_message_set_to (message, "Bob Bobbington <bob@example.net>, carol@example.com");
  dispatch_message_set_cc (message, "Dave <dave@example.com>");
  dispatch_message_set_bcc (message, "Secret Person <secret@example.org>");
  dispatch_message_set_subject (message, subject);
  prepare (message, FALSE, FALSE);

  bytes = write_to_bytes (message, FALSE);
  assert_wire_form (bytes);
  g_assert_true (is_seven_bit (bytes));

  /* Bcc goes to the envelope only: neither the header nor the address may appear. */
  headers = header_block (bytes);
  g_assert_null (strstr (headers, "bcc:"));
  g_assert_false (bytes_contain (bytes, "secret@example.org"));
  g_assert_false (bytes_contain (bytes, "Secret Person"));
  g_assert_nonnull (strstr (headers, "\r\nsubject: =?utf-8?"));

  parsed = parse_bytes (bytes);
  g_assert_cmpstr (g_mime_message_get_subject (parsed), ==, subject);

  from = internet_address_list_to_string (g_mime_message_get_from (parsed), NULL, FALSE);
  g_assert_cmpstr (from, ==, "Ann Example <ann@example.org>");

  to = g_mime_message_get_addresses (parsed, GMIME_ADDRESS_TYPE_TO);
  g_assert_cmpint (internet_address_list_length (to), ==, 2);
  mailbox = INTERNET_ADDRESS_MAILBOX (internet_address_list_get_address (to, 0));
  g_assert_cmpstr (internet_address_get_name (INTERNET_ADDRESS (mailbox)), ==, "Bob Bobbington");
  g_assert_cmpstr (internet_address_mailbox_get_addr (mailbox), ==, "bob@example.net");
  mailbox = INTERNET_ADDRESS_MAILBOX (internet_address_list_get_address (to, 1));
  g_assert_cmpstr (internet_address_mailbox_get_addr (mailbox), ==, "carol@example.com");

  cc = g_mime_message_get_addresses (parsed, GMIME_ADDRESS_TYPE_CC);
  g_assert_cmpint (internet_address_list_length (cc), ==, 1);
  mailbox = INTERNET_ADDRESS_MAILBOX (internet_address_list_get_address (cc, 0));
  g_assert_cmpstr (internet_address_mailbox_get_addr (mailbox), ==, "dave@example.com");
  g_assert_cmpint (internet_address_list_length (g_mime_message_get_addresses (parsed, GMIME_ADDRESS_TYPE_BCC)), ==, 0);

  message_id = g_mime_message_get_message_id (parsed);
  g_assert_nonnull (message_id);
  g_assert_true (g_str_has_suffix (message_id, "@example.org"));
  g_assert_cmpuint (strlen (message_id), >, strlen ("@example.org"));

  g_assert_nonnull (g_mime_message_get_date (parsed));
  g_assert_cmpstr (g_mime_object_get_header (GMIME_OBJECT (parsed), "MIME-Version"), ==, "1.0");
  g_assert_cmpstr (g_mime_object_get_header (GMIME_OBJECT (parsed), "User-Agent"), ==,
                   "Dispatch/" PACKAGE_VERSION);
}

static void
test_non_ascii_names (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  InternetAddress *address;

  dispatch_message_set_from (message, "Jörg Müller <joerg@example.org>");
  dispatch_message_set_to (message, "\"Weird, Name\" <w@example.net>, Zoë <zoe@example.net>");
  prepare (message, FALSE, FALSE);

  bytes = write_to_bytes (message, FALSE);
  assert_wire_form (bytes);
  g_assert_true (is_seven_bit (bytes));

  parsed = parse_bytes (bytes);
  address = internet_address_list_get_address (g_mime_message_get_from (parsed), 0);
  g_assert_cmpstr (internet_address_get_name (address), ==, "Jörg Müller");
  address = internet_address_list_get_address (g_mime_message_get_addresses (parsed, GMIME_ADDRESS_TYPE_TO), 0);
  g_assert_cmpstr (internet_address_get_name (address), ==, "Weird, Name");
  address = internet_address_list_get_address (g_mime_message_get_addresses (parsed, GMIME_ADDRESS_TYPE_TO), 1);
  g_assert_cmpstr (internet_address_get_name (address), ==, "Zoë");
}

static void
test_envelope (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  const char * const expected[] = {
    "a@x.org", "b@y.org", "m1@team.org", "M2@team.org", "c@z.org", "hidden@z.org", NULL
  };

  dispatch_message_set_from (message, "Ann <Ann@Example.org>");
  dispatch_message_set_to (message, "A <a@x.org>, b@y.org, team: m1@team.org, M2@team.org;");
  dispatch_message_set_cc (message, "B@Y.org, c@z.org, m1@TEAM.org");
  dispatch_message_set_bcc (message, "a@X.org, hidden@z.org, c@z.org");

  g_assert_null (dispatch_message_get_envelope_from (message));
  g_assert_null (dispatch_message_get_envelope_recipients (message));

  prepare (message, FALSE, FALSE);
  g_assert_cmpstr (dispatch_message_get_envelope_from (message), ==, "Ann@Example.org");
  g_assert_cmpstrv (dispatch_message_get_envelope_recipients (message), expected);
  g_assert_false (dispatch_message_needs_smtputf8 (message));
}

static void
test_bcc_only (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *headers = NULL;
  const char * const expected[] = { "hidden@example.com", NULL };

  dispatch_message_set_to (message, "");
  dispatch_message_set_cc (message, "   ");
  dispatch_message_set_bcc (message, "hidden@example.com");
  prepare (message, FALSE, FALSE);
  g_assert_cmpstrv (dispatch_message_get_envelope_recipients (message), expected);

  bytes = write_to_bytes (message, FALSE);
  headers = header_block (bytes);
  g_assert_null (strstr (headers, "\r\nto:"));
  g_assert_null (strstr (headers, "\r\ncc:"));
  g_assert_false (bytes_contain (bytes, "hidden@example.com"));

  /* The conventional empty group keeps a To header without disclosing anyone. */
  dispatch_message_set_to (message, "Undisclosed recipients:;");
  prepare (message, FALSE, FALSE);
  g_assert_cmpstrv (dispatch_message_get_envelope_recipients (message), expected);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_pointer (&headers, g_free);
  bytes = write_to_bytes (message, FALSE);
  headers = header_block (bytes);
  g_assert_nonnull (strstr (headers, "\r\nto: undisclosed recipients:"));
}

static void
test_international_addresses (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GError) error = NULL;
  const char * const idn[] = { "user@xn--exmple-cua.org", NULL };

  /* A non-ASCII domain travels as punycode and needs nothing from the server. */
  dispatch_message_set_to (message, "user@exämple.org");
  prepare (message, FALSE, FALSE);
  g_assert_cmpstrv (dispatch_message_get_envelope_recipients (message), idn);
  g_assert_false (dispatch_message_needs_smtputf8 (message));

  /* A non-ASCII local part needs SMTPUTF8. */
  dispatch_message_set_to (message, "jörg@example.org");
  g_assert_false (dispatch_message_prepare (message, TRUE, FALSE, NULL, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "“To”"));
  g_assert_null (dispatch_message_get_envelope_from (message));

  prepare (message, FALSE, TRUE);
  g_assert_true (dispatch_message_needs_smtputf8 (message));
  g_assert_cmpstr (dispatch_message_get_envelope_recipients (message)[0], ==, "jörg@example.org");
}

/* The engine works out the ASCII form of an address with an ASCII domain without libidn2; on
 * the wire and in the envelope it must be exactly what GMime (through libidn2) makes of it. */
static void
test_ascii_domains (void)
{
  const char *addresses[] = {
    "ann@example.org",
    "Ann@Example.ORG",
    "ann@xn--exmple-cua.org",
    "ann@XN--EXMPLE-CUA.Org",
    "ann@under_score.example",
    "ann@llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.example",
    "ann@exämple.org",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (addresses); i++)
    {
      g_autoptr(DispatchMessage) message = new_message ();
      g_autoptr(InternetAddressList) list = internet_address_list_parse (NULL, addresses[i]);
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *to_header = NULL;
      g_autofree char *folded = NULL;
      const char *expected;

      g_test_message ("%s", addresses[i]);
      g_assert_cmpint (internet_address_list_length (list), ==, 1);
      expected = internet_address_mailbox_get_idn_addr (INTERNET_ADDRESS_MAILBOX (internet_address_list_get_address (list, 0)));

      dispatch_message_set_from (message, addresses[i]);
      dispatch_message_set_to (message, addresses[i]);
      prepare (message, FALSE, FALSE);
      g_assert_cmpstr (dispatch_message_get_envelope_from (message), ==, expected);
      g_assert_cmpstr (dispatch_message_get_envelope_recipients (message)[0], ==, expected);

      bytes = write_to_bytes (message, FALSE);
      /* In the From and To headers: after "To: ", or alone on a folded line when long. */
      to_header = g_strdup_printf ("To: %s\r\n", expected);
      folded = g_strdup_printf ("To:\r\n\t%s\r\n", expected);
      g_assert_true (bytes_contain (bytes, to_header) || bytes_contain (bytes, folded));
    }
}

/* The Message-ID is on the sender's domain, in lower case. */
static void
test_message_id_domain (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *message_id;

  dispatch_message_set_from (message, "Ann <Ann@Example.ORG>");
  for (int i = 0; i < 3; i++)
    {
      prepare (message, FALSE, FALSE);
      g_clear_pointer (&bytes, g_bytes_unref);
      g_clear_object (&parsed);
      bytes = write_to_bytes (message, FALSE);
      parsed = parse_bytes (bytes);
      message_id = g_mime_message_get_message_id (parsed);
      g_assert_nonnull (message_id);
      g_assert_true (g_str_has_suffix (message_id, "@example.org"));
      g_assert_cmpuint (strlen (message_id), >, strlen ("@example.org") + 16);
      g_assert_true (g_hash_table_add (seen, g_strdup (message_id)));
    }

  dispatch_message_set_from (message, "ann@exämple.org");
  prepare (message, FALSE, FALSE);
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_object (&parsed);
  bytes = write_to_bytes (message, FALSE);
  parsed = parse_bytes (bytes);
  g_assert_true (g_str_has_suffix (g_mime_message_get_message_id (parsed), "@xn--exmple-cua.org"));
}


/* Errors */

typedef struct
{
  const char *from;
  const char *to;
  const char *cc;
  const char *bcc;
  const char *subject;
  const char *field;
} BadInput;

static const BadInput bad_inputs[] = {
  { .subject = "Hi\r\nBcc: evil@example.com", .field = "Subject" },
  { .subject = "Hi\nthere", .field = "Subject" },
  { .subject = "Hi\rthere", .field = "Subject" },
  { .to = "bob@example.net\r\nBcc: evil@example.com", .field = "To" },
  { .to = "bob@example.net\n", .field = "To" },
  { .cc = "carol@example.com\r", .field = "Cc" },
  { .bcc = "x@example.com\nSubject: spam", .field = "Bcc" },
  { .from = "ann@example.org\r\nBcc: evil@example.com", .field = "From" },
  { .to = "not an address", .field = "To" },
  { .to = "a@", .field = "To" },
  { .to = "bob", .field = "To" },
  { .to = "@example.net", .field = "To" },
  { .to = "Bob <bob@example.net", .field = "To" },
  { .to = "bob@example.net carol@example.com", .field = "To" },
  { .cc = "carol@example.com, garbage", .field = "Cc" },
  { .cc = "team: a;", .field = "Cc" },
  { .bcc = "a..b@example.com", .field = "Bcc" },
  { .from = "ann@", .field = "From" },
  { .from = "", .field = "From" },
  { .from = "ann@example.org, bob@example.org", .field = "From" },
  { .from = "team: ann@example.org;", .field = "From" },
  { .to = "", .cc = "", .bcc = "", .field = "To" },
  { .to = "Undisclosed recipients:;", .field = "To" },
  /* Valid in a header, but no envelope command can carry them (found by fuzz/fuzz-message). */
  { .from = "\"ann smith\"@example.org", .field = "From" },
  { .bcc = "\"dave <x>\"@example.net", .field = "Bcc" },
  /* GMime would write this group name on one line of 1,300 octets (found by fuzz-message). */
  { .to = "Team LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL: bob@example.org;", .field = "To" },
  /* Longer than RFC 5321 allows; they would also make unfoldable header lines. */
  { .to = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", .field = "To" },
  { .cc = "ann@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.org", .field = "Cc" },
};

static void
test_bad_input (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    {
      const BadInput *bad = &bad_inputs[i];
      g_autoptr(DispatchMessage) message = new_message ();
      g_autoptr(GError) error = NULL;
      g_autofree char *quoted = g_strdup_printf ("“%s”", bad->field);

      if (bad->from != NULL)
        dispatch_message_set_from (message, bad->from);
      if (bad->to != NULL)
        dispatch_message_set_to (message, bad->to);
      if (bad->cc != NULL)
        dispatch_message_set_cc (message, bad->cc);
      if (bad->bcc != NULL)
        dispatch_message_set_bcc (message, bad->bcc);
      if (bad->subject != NULL)
        dispatch_message_set_subject (message, bad->subject);

      g_test_message ("case %" G_GSIZE_FORMAT ": field %s", i, bad->field);
      g_assert_false (dispatch_message_prepare (message, TRUE, TRUE, NULL, &error));
      g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
      g_assert_cmpint (dispatch_error_get_stage (error), ==, DISPATCH_SMTP_STAGE_MESSAGE);
      g_assert_nonnull (strstr (error->message, quoted));
      g_assert_null (dispatch_message_get_envelope_from (message));
    }
}

static void
test_missing_from (void)
{
  g_autoptr(DispatchMessage) message = dispatch_message_new ();
  g_autoptr(GError) error = NULL;

  dispatch_message_set_to (message, "bob@example.net");
  g_assert_false (dispatch_message_prepare (message, FALSE, FALSE, NULL, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "“From”"));
}

static void
test_unreadable_attachment (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autofree char *missing_path = g_build_filename (fixture->dir, "missing.pdf", NULL);
  g_autoptr(GFile) missing = g_file_new_for_path (missing_path);
  g_autoptr(GFile) folder = g_file_new_for_path (fixture->dir);
  g_autoptr(GFile) vanishing = NULL;
  g_autoptr(GOutputStream) output = NULL;
  g_autoptr(GError) error = NULL;

  attach (message, missing, data);
  g_assert_false (dispatch_message_prepare (message, FALSE, FALSE, NULL, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "missing.pdf"));
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);

  dispatch_message_clear_attachments (message);
  attach (message, folder, data);
  g_assert_false (dispatch_message_prepare (message, FALSE, FALSE, NULL, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "folder"));
  g_clear_error (&error);

  if (getuid () != 0)
    {
      g_autoptr(GFile) locked = write_file (fixture, "locked.txt", "secret", 6);
      g_autofree char *locked_path = g_file_get_path (locked);

      g_assert_cmpint (g_chmod (locked_path, 0), ==, 0);
      dispatch_message_clear_attachments (message);
      attach (message, locked, data);
      g_assert_false (dispatch_message_prepare (message, FALSE, FALSE, NULL, &error));
      g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_FILE);
      g_assert_nonnull (strstr (error->message, "locked.txt"));
      g_assert_nonnull (strstr (error->message, "permission denied"));
      g_clear_error (&error);
    }

  /* The file is read again while the message is written; if it is gone by then, the write
   * fails naming it, and nothing pretends the message went out whole. */
  vanishing = write_file (fixture, "holiday.jpg", "not really a jpeg", 17);
  dispatch_message_clear_attachments (message);
  attach (message, vanishing, data);
  prepare (message, FALSE, FALSE);
  g_assert_true (g_file_delete (vanishing, NULL, NULL));

  output = g_memory_output_stream_new_resizable ();
  g_assert_false (dispatch_message_write (message, output, TRUE, NULL, NULL, NULL, &error));
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "holiday.jpg"));
  g_clear_error (&error);

  g_assert_cmpuint (dispatch_message_get_size (message, NULL, &error), ==, 0);
  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_FILE);
}


/* Structure and body */

static void
test_single_part (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  g_autofree char *type = NULL;
  g_autofree char *text = NULL;
  GMimeObject *body;

  prepare (message, FALSE, FALSE);
  bytes = write_to_bytes (message, FALSE);
  assert_wire_form (bytes);

  parsed = parse_bytes (bytes);
  body = g_mime_message_get_mime_part (parsed);
  g_assert_true (GMIME_IS_TEXT_PART (body));
  type = mime_type_of (body);
  g_assert_cmpstr (type, ==, "text/plain");
  g_assert_cmpstr (g_mime_object_get_content_type_parameter (body, "charset"), ==, "utf-8");
  g_assert_cmpint (g_mime_part_get_content_encoding (GMIME_PART (body)), ==, GMIME_CONTENT_ENCODING_7BIT);

  text = g_mime_text_part_get_text (GMIME_TEXT_PART (body));
  g_assert_cmpstr (text, ==, "Hello Bob,\r\n\r\nsee you soon.\r\n");
}

/* A message may have no text at all (a subject, an attachment); found by fuzz/fuzz-message. */
static void
test_empty_text (void)
{
  const char *texts[] = { NULL, "" };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(DispatchMessage) message = new_message ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GMimeMessage) parsed = NULL;
      g_autofree char *text = NULL;
      GMimeObject *body;

      dispatch_message_set_text (message, texts[i]);
      prepare (message, FALSE, FALSE);
      bytes = write_to_bytes (message, FALSE);
      assert_wire_form (bytes);
      g_assert_cmpuint (dispatch_message_get_size (message, NULL, NULL), ==, g_bytes_get_size (bytes));

      parsed = parse_bytes (bytes);
      body = g_mime_message_get_mime_part (parsed);
      g_assert_true (GMIME_IS_TEXT_PART (body));
      text = g_mime_text_part_get_text (GMIME_TEXT_PART (body));
      g_assert_cmpstr (text, ==, "");
    }
}

static void
test_attachments (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) random = random_bytes (300 * 1024);
  g_autoptr(GBytes) png = g_bytes_new_static (png_head, sizeof png_head);
  const char *pdf_data = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n";
  g_autoptr(GFile) photo = write_file (fixture, "Grüße 📷.png", png_head, sizeof png_head);
  g_autoptr(GFile) screenshot = write_file (fixture, "screenshot", png_head, sizeof png_head);
  g_autoptr(GFile) report = write_file (fixture, "report.pdf", pdf_data, strlen (pdf_data));
  g_autoptr(GFile) blob = write_file (fixture, "data.bin", g_bytes_get_data (random, NULL),
                                      g_bytes_get_size (random));
  g_autofree char *dotted_blob = g_build_filename (fixture->dir, ".", "sub", "..", "data.bin", NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  struct {
    const char *filename;
    const char *type;
    gboolean    is_inline;
    GBytes     *content;
  } expected[] = {
    { "Grüße 📷.png", "image/png", TRUE, png },
    { "screenshot", "image/png", TRUE, png },
    { "report.pdf", "application/pdf", FALSE, NULL },
    { "data.bin", "application/octet-stream", FALSE, random },
  };
  GMimeMultipart *mixed;
  GMimeObject *text_part;
  g_autofree char *text_type = NULL;
  g_autofree char *text = NULL;

  attach (message, photo, data);
  attach (message, screenshot, data);
  attach (message, report, data);
  attach (message, blob, data);
  /* Once only, however it is given again. */
  dispatch_message_add_attachment (message, blob);
  dispatch_message_add_attachment_path (message, g_file_peek_path (blob));
  dispatch_message_add_attachment_path (message, dotted_blob);
  g_assert_cmpuint (dispatch_message_get_n_attachments (message), ==, 4);
  prepare (message, FALSE, FALSE);

  bytes = write_to_bytes (message, FALSE);
  assert_wire_form (bytes);
  g_assert_true (is_seven_bit (bytes));
  /* RFC 2231 for the non-ASCII name, not an RFC 2047 word in a parameter. */
  g_assert_true (bytes_contain (bytes, "filename*="));
  g_assert_false (bytes_contain (bytes, "filename=\"=?"));

  parsed = parse_bytes (bytes);
  g_assert_true (GMIME_IS_MULTIPART (g_mime_message_get_mime_part (parsed)));
  mixed = GMIME_MULTIPART (g_mime_message_get_mime_part (parsed));
  g_assert_cmpstr (g_mime_content_type_get_media_subtype (g_mime_object_get_content_type (GMIME_OBJECT (mixed))),
                   ==, "mixed");
  g_assert_cmpint (g_mime_multipart_get_count (mixed), ==, 1 + G_N_ELEMENTS (expected));

  text_part = g_mime_multipart_get_part (mixed, 0);
  text_type = mime_type_of (text_part);
  g_assert_cmpstr (text_type, ==, "text/plain");
  g_assert_cmpstr (g_mime_object_get_content_type_parameter (text_part, "charset"), ==, "utf-8");
  text = g_mime_text_part_get_text (GMIME_TEXT_PART (text_part));
  g_assert_cmpstr (text, ==, "Hello Bob,\r\n\r\nsee you soon.\r\n");

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GMimeObject *part = g_mime_multipart_get_part (mixed, i + 1);
      GMimeContentDisposition *disposition = g_mime_object_get_content_disposition (part);
      g_autofree char *type = mime_type_of (part);
      g_autoptr(GBytes) content = decoded_content (part);

      g_test_message ("attachment %s", expected[i].filename);
      g_assert_cmpstr (type, ==, expected[i].type);
      g_assert_nonnull (disposition);
      g_assert_cmpstr (g_mime_content_disposition_get_disposition (disposition), ==,
                       expected[i].is_inline ? "inline" : "attachment");
      g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, expected[i].filename);
      g_assert_cmpint (g_mime_part_get_content_encoding (GMIME_PART (part)), ==,
                       GMIME_CONTENT_ENCODING_BASE64);
      if (expected[i].content != NULL)
        g_assert_true (g_bytes_equal (content, expected[i].content));
      else
        g_assert_cmpmem (g_bytes_get_data (content, NULL), g_bytes_get_size (content),
                         pdf_data, strlen (pdf_data));
    }

  /* The list in the message is the list the caller keeps. */
  dispatch_message_remove_attachment (message, screenshot);
  g_assert_cmpuint (dispatch_message_get_n_attachments (message), ==, 3);
  dispatch_message_remove_attachment (message, screenshot);
  g_assert_cmpuint (dispatch_message_get_n_attachments (message), ==, 3);
}

/* A relative name is taken from the current folder, as a command line means it, and is the
 * same file as its absolute name. */
static void
test_attachment_relative_path (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GFile) photo = write_file (fixture, "photo.png", png_head, sizeof png_head);
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  GMimeObject *part;
  g_autofree char *type = NULL;

  g_assert_cmpint (g_chdir (fixture->dir), ==, 0);
  dispatch_message_add_attachment_path (message, "photo.png");
  dispatch_message_add_attachment (message, photo);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_cmpuint (dispatch_message_get_n_attachments (message), ==, 1);

  /* Read from where it was when attached, wherever the program is now. */
  prepare (message, FALSE, FALSE);
  bytes = write_to_bytes (message, FALSE);
  parsed = parse_bytes (bytes);
  part = g_mime_multipart_get_part (GMIME_MULTIPART (g_mime_message_get_mime_part (parsed)), 1);
  type = mime_type_of (part);
  g_assert_cmpstr (type, ==, "image/png");
  g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, "photo.png");

  dispatch_message_remove_attachment (message, photo);
  g_assert_cmpuint (dispatch_message_get_n_attachments (message), ==, 0);
}

static void
test_line_endings (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GString) text = g_string_new ("unix\nwindows\r\nold mac\rmixed\r\r\n");
  g_autoptr(GFile) blob = NULL;
  g_autoptr(GBytes) random = random_bytes (10000);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  g_autofree char *decoded = NULL;
  g_autofree char *decoded_lf = NULL;
  g_autofree char *expected_lf = NULL;
  GMimeObject *text_part;

  /* One line longer than SMTP allows, which only an encoding can carry. */
  for (int i = 0; i < 300; i++)
    g_string_append (text, "long ");
  g_string_append (text, "\ntrailing spaces   \nend");
  expected_lf = normalise_to_lf (text->str);

  blob = write_file (fixture, "blob.dat", g_bytes_get_data (random, NULL), g_bytes_get_size (random));
  dispatch_message_set_text (message, text->str);
  dispatch_message_add_attachment (message, blob);

  for (int allow_8bit = 0; allow_8bit <= 1; allow_8bit++)
    {
      prepare (message, allow_8bit, FALSE);
      g_assert_false (dispatch_message_needs_8bitmime (message));

      g_clear_pointer (&bytes, g_bytes_unref);
      bytes = write_to_bytes (message, FALSE);
      assert_wire_form (bytes);

      g_clear_object (&parsed);
      parsed = parse_bytes (bytes);
      text_part = g_mime_multipart_get_part (GMIME_MULTIPART (g_mime_message_get_mime_part (parsed)), 0);
      g_assert_cmpint (g_mime_part_get_content_encoding (GMIME_PART (text_part)), ==,
                       GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);

      g_clear_pointer (&decoded, g_free);
      g_clear_pointer (&decoded_lf, g_free);
      decoded = g_mime_text_part_get_text (GMIME_TEXT_PART (text_part));
      decoded_lf = normalise_to_lf (decoded);
      g_assert_cmpstr (decoded_lf, ==, expected_lf);
    }
}

typedef struct
{
  const char           *text;
  gboolean              allow_8bit;
  GMimeContentEncoding  encoding;
} EncodingCase;

static void
test_text_encoding (void)
{
  const EncodingCase cases[] = {
    { "Plain ASCII, short lines.\n", FALSE, GMIME_CONTENT_ENCODING_7BIT },
    { "Plain ASCII, short lines.\n", TRUE, GMIME_CONTENT_ENCODING_7BIT },
    /* a few accented letters in mostly ASCII text: quoted-printable */
    { "Hello from Köln, see you next week at the office. Regards, Jörg\n", FALSE,
      GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE },
    { "Hello from Köln, see you next week at the office. Regards, Jörg\n", TRUE,
      GMIME_CONTENT_ENCODING_8BIT },
    /* mostly non-ASCII: base64 is shorter */
    { "Привет, как дела? Увидимся завтра.\n", FALSE, GMIME_CONTENT_ENCODING_BASE64 },
    { "Привет, как дела? Увидимся завтра.\n", TRUE, GMIME_CONTENT_ENCODING_8BIT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DispatchMessage) message = new_message ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GMimeMessage) parsed = NULL;
      g_autofree char *decoded = NULL;
      g_autofree char *decoded_lf = NULL;
      GMimeObject *body;

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      dispatch_message_set_text (message, cases[i].text);
      prepare (message, cases[i].allow_8bit, FALSE);
      g_assert_cmpint (dispatch_message_needs_8bitmime (message), ==,
                       cases[i].encoding == GMIME_CONTENT_ENCODING_8BIT);

      bytes = write_to_bytes (message, FALSE);
      assert_wire_form (bytes);
      g_assert_cmpint (is_seven_bit (bytes), ==, cases[i].encoding != GMIME_CONTENT_ENCODING_8BIT);

      parsed = parse_bytes (bytes);
      body = g_mime_message_get_mime_part (parsed);
      g_assert_cmpint (g_mime_part_get_content_encoding (GMIME_PART (body)), ==, cases[i].encoding);
      decoded = g_mime_text_part_get_text (GMIME_TEXT_PART (body));
      /* Base64 carries the canonical CRLF form of the text too. */
      g_assert_true (g_str_has_suffix (decoded, "\r\n"));
      decoded_lf = normalise_to_lf (decoded);
      g_assert_cmpstr (decoded_lf, ==, cases[i].text);
    }
}

static void
test_dot_stuffing (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) stuffed = NULL;

  dispatch_message_set_text (message, ".\n.hidden\n..\nmiddle . dot\n.");
  prepare (message, FALSE, FALSE);

  plain = write_to_bytes (message, FALSE);
  stuffed = write_to_bytes (message, TRUE);
  assert_wire_form (plain);
  assert_wire_form (stuffed);

  g_assert_true (bytes_contain (plain, "\r\n\r\n.\r\n.hidden\r\n..\r\nmiddle . dot\r\n.\r\n"));
  g_assert_true (bytes_contain (stuffed, "\r\n\r\n..\r\n..hidden\r\n...\r\nmiddle . dot\r\n..\r\n"));
  g_assert_false (bytes_contain (stuffed, "\r\n.\r\n"));
  g_assert_cmpuint (g_bytes_get_size (stuffed), ==, g_bytes_get_size (plain) + 4);
}

/* What DATA does to a message, undone: the first "." of every line that starts with one.
 * @n_dots counts them. */
static GBytes *
unstuff (GBytes *stuffed,
         gsize  *n_dots)
{
  gsize len;
  const char *data = g_bytes_get_data (stuffed, &len);
  GByteArray *plain = g_byte_array_sized_new (len);
  gboolean at_line_start = TRUE;

  *n_dots = 0;
  for (gsize i = 0; i < len; i++)
    {
      if (at_line_start && data[i] == '.')
        {
          g_assert_cmpuint (i + 1, <, len);
          /* a line of just "." would end DATA early */
          g_assert_false (data[i + 1] == '\r');
          (*n_dots)++;
          i++;
        }
      g_byte_array_append (plain, (const guint8 *) data + i, 1);
      at_line_start = data[i] == '\n';
    }

  return g_byte_array_free_to_bytes (plain);
}

static gsize
count_dot_lines (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  gsize n = 0;

  for (gsize i = 0; i < len; i++)
    if (data[i] == '.' && (i == 0 || data[i - 1] == '\n'))
      n++;

  return n;
}

/* The stuffed form is the plain one with a "." more on exactly the lines that start with one. */
static void
assert_stuffing (GBytes *plain,
                 GBytes *stuffed)
{
  g_autoptr(GBytes) unstuffed = NULL;
  gsize n_dots;

  unstuffed = unstuff (stuffed, &n_dots);
  g_assert_true (g_bytes_equal (unstuffed, plain));
  g_assert_cmpuint (n_dots, ==, count_dot_lines (plain));
  g_assert_cmpuint (g_bytes_get_size (stuffed), ==, g_bytes_get_size (plain) + n_dots);
}

/* Each way a line can end, alone or next to another, at the start, inside and at the end of
 * the text, in every transfer encoding the text part can get: only CRLF reaches the wire,
 * and the text comes back with one CRLF for each line end the user typed. */
static void
test_text_line_ends (Fixture       *fixture,
                     gconstpointer  data)
{
  const char *ends[] = { "\n", "\r", "\r\n", "\n\r", "\r\r\n", "\n\n", "\r\r", "\n\r\n", "\r\n\r" };
  const char *words[] = {
    "plain words",                                  /* 7bit */
    "Grüße aus Köln, bis bald, viele Grüße",        /* quoted-printable, or 8bit */
    "Привет, как дела? Увидимся",                   /* base64, or 8bit */
  };
  g_autoptr(GFile) attachment = write_file (fixture, "a.bin", "\x00\x01\x02", 3);
  g_autoptr(GRegex) line_end = g_regex_new ("\r\n|\r|\n", 0, 0, NULL);
  g_autoptr(GString) long_line = g_string_new (NULL);

  /* A line too long for SMTP, which only quoted-printable or base64 can carry. */
  for (int i = 0; i < 250; i++)
    g_string_append (long_line, "long ");

  for (gsize e = 0; e < G_N_ELEMENTS (ends); e++)
    for (gsize w = 0; w <= G_N_ELEMENTS (words); w++)
      for (int trailing = 0; trailing <= 1; trailing++)
        for (int multipart = 0; multipart <= 1; multipart++)
          for (int allow_8bit = 0; allow_8bit <= 1; allow_8bit++)
            {
              const char *word = w < G_N_ELEMENTS (words) ? words[w] : long_line->str;
              const char *end = ends[e];
              g_autofree char *text = g_strconcat (end, word, end, ".", word, end, "..", end, ".",
                                                   trailing ? end : "", NULL);
              g_autofree char *expected = g_regex_replace_literal (line_end, text, -1, 0, "\r\n", 0, NULL);
              g_autoptr(DispatchMessage) message = new_message ();
              g_autoptr(GBytes) plain = NULL;
              g_autoptr(GBytes) stuffed = NULL;
              g_autoptr(GMimeMessage) parsed = NULL;
              g_autofree char *decoded = NULL;
              GMimeObject *body;

              g_test_message ("end %" G_GSIZE_FORMAT ", text %" G_GSIZE_FORMAT ", trailing %d, "
                              "multipart %d, 8bit %d", e, w, trailing, multipart, allow_8bit);
              dispatch_message_set_text (message, text);
              if (multipart)
                dispatch_message_add_attachment (message, attachment);
              prepare (message, allow_8bit, FALSE);

              plain = write_to_bytes (message, FALSE);
              stuffed = write_to_bytes (message, TRUE);
              assert_wire_form (plain);
              assert_wire_form (stuffed);
              assert_stuffing (plain, stuffed);
              g_assert_cmpuint (dispatch_message_get_size (message, NULL, NULL), ==, g_bytes_get_size (plain));

              parsed = parse_bytes (plain);
              body = g_mime_message_get_mime_part (parsed);
              if (multipart)
                body = g_mime_multipart_get_part (GMIME_MULTIPART (body), 0);
              decoded = g_mime_text_part_get_text (GMIME_TEXT_PART (body));
              /* Without a final line end, the one GMime adds before the boundary is the text's. */
              if (!trailing && g_str_has_suffix (decoded, "\r\n") && !g_str_has_suffix (expected, "\r\n"))
                decoded[strlen (decoded) - 2] = '\0';
              g_assert_cmpstr (decoded, ==, expected);
            }
}

/* Stuffing keeps its place across GMime's writes and the 64 KiB chunks of the sink. */
static void
test_dot_stuffing_large (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) stuffed = NULL;

  for (guint i = 0; text->len < 300 * 1024; i++)
    {
      const char *lines[] = { ".", "..", ".x", "x.", "", " .", "...." };

      g_string_append (text, lines[i % G_N_ELEMENTS (lines)]);
      /* lines of every length, so that a "." falls on every position of a chunk */
      g_string_append_len (text, "abcdefghijklmnopqrstuvwxyz", i % 27);
      g_string_append_c (text, '\n');
    }

  dispatch_message_set_text (message, text->str);
  prepare (message, FALSE, FALSE);
  plain = write_to_bytes (message, FALSE);
  stuffed = write_to_bytes (message, TRUE);
  assert_wire_form (stuffed);
  assert_stuffing (plain, stuffed);
  g_assert_cmpuint (count_dot_lines (plain), >, 10000);
}

/* An attachment's body on the wire: from after its header block to the CRLF GMime puts
 * before the next boundary. @from moves past it. */
static GBytes *
next_base64_body (GBytes      *bytes,
                  const char **from)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  const char *end = data + len;
  const char *marker = "Content-Transfer-Encoding: base64\r\n";
  const char *start, *stop;

  start = g_strstr_len (*from, end - *from, marker);
  g_assert_nonnull (start);
  start = g_strstr_len (start, end - start, "\r\n\r\n");
  g_assert_nonnull (start);
  start += 4;
  stop = g_strstr_len (start, end - start, "\r\n--=_dispatch_");
  g_assert_nonnull (stop);
  *from = stop;

  return g_bytes_new (start, stop - start);
}

/* What the attachment must look like: base64 from GLib's encoder, cut into lines of 76 with
 * CRLF after each (RFC 2045 §6.8), as GMime has always written it here. */
static GBytes *
expected_base64_body (GBytes *content)
{
  g_autofree char *encoded = g_base64_encode (g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  GString *wire = g_string_new (NULL);
  gsize len = strlen (encoded);

  for (gsize i = 0; i < len; i += 76)
    {
      g_string_append_len (wire, encoded + i, MIN (76, len - i));
      g_string_append (wire, "\r\n");
    }

  return g_string_free_to_bytes (wire);
}

/* _get_size() no longer encodes the attachments, only knows how long their encoding is; SIZE
 * and the progress shown depend on it being exact. Sizes around every line, block and
 * 64 KiB chunk boundary, a few at random, several per message, names not in ASCII. */
static void
test_size_without_encoding (Fixture       *fixture,
                            gconstpointer  data)
{
  const gsize block = 57 * (65536 / 78);   /* the most whole lines one 64 KiB chunk holds */
  gsize sizes[] = {
    0, 1, 2, 3, 4, 5, 56, 57, 58, 75, 76, 77, 113, 114, 115, 151, 152, 153, 227, 228, 229,
    57 * 76 - 1, 57 * 76, 57 * 76 + 1, 4095, 4096, 4097,
    block - 1, block, block + 1, 65535, 65536, 65537, 2 * block + 58,
    0, 0, 0,   /* random, below */
  };
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) contents = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const gsize per_message[] = { 1, 3, 5, G_N_ELEMENTS (sizes) };

  for (gsize i = G_N_ELEMENTS (sizes) - 3; i < G_N_ELEMENTS (sizes); i++)
    sizes[i] = g_random_int_range (1, 300 * 1024);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *name = g_strdup_printf ("Grüße %02" G_GSIZE_FORMAT " — 資料 📎 %" G_GSIZE_FORMAT ".bin",
                                               i, sizes[i]);
      GBytes *content = random_bytes (sizes[i]);

      g_ptr_array_add (files, write_file (fixture, name, g_bytes_get_data (content, NULL), sizes[i]));
      g_ptr_array_add (contents, content);
    }

  for (gsize p = 0; p < G_N_ELEMENTS (per_message); p++)
    for (gsize first = 0; first < files->len; first += per_message[p])
      {
        g_autoptr(DispatchMessage) message = new_message ();
        g_autofree char *eml_path = g_build_filename (fixture->dir, "message.eml", NULL);
        g_autoptr(GFile) eml = g_file_new_for_path (eml_path);
        g_autoptr(GBytes) plain = NULL;
        g_autoptr(GBytes) stuffed = NULL;
        g_autoptr(GBytes) on_disk = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *source = NULL;
        gsize last = MIN (first + per_message[p], files->len);
        const char *cursor;
        guint64 size;

        g_test_message ("attachments %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT, first, last - 1);
        for (gsize i = first; i < last; i++)
          dispatch_message_add_attachment (message, g_ptr_array_index (files, i));
        prepare (message, FALSE, FALSE);

        size = dispatch_message_get_size (message, NULL, &error);
        g_assert_no_error (error);
        plain = write_to_bytes (message, FALSE);
        stuffed = write_to_bytes (message, TRUE);
        g_assert_cmpuint (size, ==, g_bytes_get_size (plain));
        assert_wire_form (plain);
        assert_stuffing (plain, stuffed);

        g_assert_true (dispatch_message_write_to_file (message, eml, NULL, &error));
        g_assert_no_error (error);
        on_disk = g_file_load_bytes (eml, NULL, NULL, &error);
        g_assert_no_error (error);
        g_assert_true (g_bytes_equal (on_disk, plain));
        source = dispatch_message_to_string (message, 0, &error);
        g_assert_no_error (error);
        g_assert_cmpmem (source, strlen (source), g_bytes_get_data (plain, NULL), g_bytes_get_size (plain));

        cursor = g_bytes_get_data (plain, NULL);
        for (gsize i = first; i < last; i++)
          {
            g_autoptr(GBytes) body = next_base64_body (plain, &cursor);
            g_autoptr(GBytes) expected = expected_base64_body (g_ptr_array_index (contents, i));

            g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                             g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
          }
      }
}

typedef struct
{
  int     fd;
  GBytes *bytes;
} PipeFeed;

static gpointer
feed_pipe (gpointer data)
{
  PipeFeed *feed = data;
  gsize len;
  const guint8 *p = g_bytes_get_data (feed->bytes, &len);

  while (len > 0)
    {
      gssize n = write (feed->fd, p, len);

      g_assert_cmpint (n, >, 0);
      p += n;
      len -= n;
    }
  close (feed->fd);

  return NULL;
}

/* An attachment from a pipe (--attach <(…), /dev/stdin) is read once: the type sniffing, the
 * size and every write see all of it, even after a second _prepare() as dispatch-send does. */
static void
test_attachment_pipe (gconstpointer data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) random = random_bytes (200 * 1024 + 7);
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) feeder = NULL;
  g_autofree char *path = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GDir) tmp = NULL;
  const char *name;
  GMimeObject *part;
  PipeFeed feed;
  int fds[2];
  guint64 size;

  /* A PNG that comes through a pipe is still sniffed as one. */
  g_byte_array_append (expected, png_head, sizeof png_head);
  g_byte_array_append (expected, g_bytes_get_data (random, NULL), g_bytes_get_size (random));
  feed.bytes = g_byte_array_free_to_bytes (g_steal_pointer (&expected));

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  feed.fd = fds[1];
  feeder = g_thread_new ("feed-pipe", feed_pipe, &feed);

  path = g_strdup_printf ("/dev/fd/%d", fds[0]);
  file = g_file_new_for_path (path);
  attach (message, file, data);
  prepare (message, FALSE, FALSE);
  prepare (message, FALSE, FALSE);

  size = dispatch_message_get_size (message, NULL, &error);
  g_assert_no_error (error);
  bytes = write_to_bytes (message, FALSE);
  g_assert_cmpuint (size, ==, g_bytes_get_size (bytes));
  again = write_to_bytes (message, FALSE);
  g_assert_cmpuint (g_bytes_get_size (again), ==, g_bytes_get_size (bytes));

  parsed = parse_bytes (bytes);
  part = g_mime_multipart_get_part (GMIME_MULTIPART (g_mime_message_get_mime_part (parsed)), 1);
  type = mime_type_of (part);
  g_assert_cmpstr (type, ==, "image/png");
  content = decoded_content (part);
  g_assert_true (g_bytes_equal (content, feed.bytes));
  g_thread_join (g_steal_pointer (&feeder));

  /* Once read, the pipe is not needed again. */
  close (fds[0]);
  prepare (message, FALSE, FALSE);
  g_assert_cmpuint (dispatch_message_get_size (message, NULL, &error), ==, size);
  g_assert_no_error (error);

  /* The spool's name went at once; nothing is left behind in the temporary folder. */
  tmp = g_dir_open (g_get_tmp_dir (), 0, NULL);
  while (tmp != NULL && (name = g_dir_read_name (tmp)) != NULL)
    g_assert_false (g_str_has_prefix (name, "dispatch-attachment-"));

  g_bytes_unref (feed.bytes);
}

/* Issue 10, 7: a file name with line breaks must not add header lines, and a subject typed
 * like an encoded word must arrive as typed. Parsed back with GMime: the header set and the
 * decoded values. */
static void
test_injection (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  const char *evil_name = "x\r\nBcc: victim@evil.example\r\nX-Injected: 1.png";
  const char *odd_name = "a\tb\x7f" "c\xc2\x85" "d\xe2\x80\xa8" "e.txt";
  const char *subjects[] = {
    "=?utf-8?b?QQ0KQmNjOiBldmlsQGV4YW1wbGUub3Jn?=",
    "=?utf-8?q?A=00B?= and =?utf-8?q?=0D=0A?= mixed with Grüße and a tail long enough to fold it twice over",
    "plain =? not a word",
  };
  g_autoptr(GFile) evil = write_file (fixture, evil_name, png_head, sizeof png_head);
  const char *word_name = "body =?utf-8?q?=0D=0ABcc:_x?= and a name long enough to need more than one section.txt";
  g_autoptr(GFile) odd = write_file (fixture, odd_name, "text", 4);
  g_autoptr(GFile) word = write_file (fixture, word_name, "text", 4);

  attach (message, evil, data);
  attach (message, odd, data);
  attach (message, word, data);

  for (gsize i = 0; i < G_N_ELEMENTS (subjects); i++)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GMimeMessage) parsed = NULL;
      g_autofree char *headers = NULL;
      GMimeMultipart *mixed;
      GMimeObject *part;

      g_test_message ("subject %s", subjects[i]);
      dispatch_message_set_subject (message, subjects[i]);
      prepare (message, FALSE, FALSE);
      bytes = write_to_bytes (message, TRUE);
      assert_wire_form (bytes);
      headers = header_block (bytes);
      g_assert_null (strstr (headers, "\r\nbcc:"));

      parsed = parse_bytes (bytes);
      g_assert_cmpstr (g_mime_message_get_subject (parsed), ==, subjects[i]);
      g_assert_null (g_mime_object_get_header (GMIME_OBJECT (parsed), "Bcc"));

      mixed = GMIME_MULTIPART (g_mime_message_get_mime_part (parsed));
      g_assert_cmpint (g_mime_multipart_get_count (mixed), ==, 4);

      part = g_mime_multipart_get_part (mixed, 1);
      /* Exactly the headers the writer puts there, nothing smuggled in. */
      g_assert_cmpint (g_mime_header_list_get_count (g_mime_object_get_header_list (part)), ==, 3);
      g_assert_null (g_mime_object_get_header (part, "Bcc"));
      g_assert_null (g_mime_object_get_header (part, "X-Injected"));
      g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==,
                       "x Bcc: victim@evil.example X-Injected: 1.png");

      part = g_mime_multipart_get_part (mixed, 2);
      g_assert_cmpint (g_mime_header_list_get_count (g_mime_object_get_header_list (part)), ==, 3);
      g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, "a b c d e.txt");

      /* Typed like an encoded word: arrives as typed, also as the type's "name". */
      part = g_mime_multipart_get_part (mixed, 3);
      g_assert_cmpint (g_mime_header_list_get_count (g_mime_object_get_header_list (part)), ==, 3);
      g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, word_name);
      g_assert_cmpstr (g_mime_object_get_content_type_parameter (part, "name"), ==, word_name);
    }
}

/* A display name typed like an encoded word is taken literally, too: GMime's address parser
 * would decode it (here into a line break), and its writer would send a literal one on. */
static void
test_literal_display_names (void)
{
  g_autoptr(DispatchMessage) message = new_message ();
  const char *from_name = "=?utf-8?b?QQ0KQmNjOiBldmlsQGV4YW1wbGUub3Jn?=";
  g_autofree char *from = g_strdup_printf ("%s <a=?b@example.org>", from_name);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMimeMessage) parsed = NULL;
  InternetAddressList *list;
  InternetAddress *address;
  InternetAddressList *members;

  dispatch_message_set_from (message, from);
  dispatch_message_set_to (message, "Team: x <x@example.net>, \"=?q?\" <q@example.net>;, "
                                    "=?utf-8?q?=00?= <bob@example.net>");
  prepare (message, FALSE, FALSE);
  g_assert_cmpstr (dispatch_message_get_envelope_from (message), ==, "a=?b@example.org");
  g_assert_cmpstr (dispatch_message_get_envelope_recipients (message)[1], ==, "q@example.net");

  bytes = write_to_bytes (message, TRUE);
  assert_wire_form (bytes);
  parsed = parse_bytes (bytes);

  list = g_mime_message_get_from (parsed);
  g_assert_cmpint (internet_address_list_length (list), ==, 1);
  address = internet_address_list_get_address (list, 0);
  g_assert_cmpstr (internet_address_get_name (address), ==, from_name);
  g_assert_cmpstr (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (address)), ==,
                   "a=?b@example.org");

  list = g_mime_message_get_to (parsed);
  g_assert_cmpint (internet_address_list_length (list), ==, 2);
  address = internet_address_list_get_address (list, 0);
  g_assert_true (INTERNET_ADDRESS_IS_GROUP (address));
  g_assert_cmpstr (internet_address_get_name (address), ==, "Team");
  members = internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));
  g_assert_cmpint (internet_address_list_length (members), ==, 2);
  g_assert_cmpstr (internet_address_get_name (internet_address_list_get_address (members, 1)), ==,
                   "=?q?");
  address = internet_address_list_get_address (list, 1);
  g_assert_cmpstr (internet_address_get_name (address), ==, "=?utf-8?q?=00?=");
  g_assert_cmpstr (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (address)), ==,
                   "bob@example.net");
}

/* A file that cannot tell its size (here a device) is measured by reading it. */
static void
test_size_unsized_file (gconstpointer data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GFile) device = g_file_new_for_path ("/dev/null");
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  guint64 size;

  if (!g_file_query_exists (device, NULL))
    {
      g_test_skip ("no /dev/null");
      return;
    }

  attach (message, device, data);
  prepare (message, FALSE, FALSE);
  size = dispatch_message_get_size (message, NULL, &error);
  g_assert_no_error (error);
  bytes = write_to_bytes (message, FALSE);
  g_assert_cmpuint (size, ==, g_bytes_get_size (bytes));
}

static void
test_size_and_file (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) random = random_bytes (100 * 1024);
  g_autoptr(GFile) blob = write_file (fixture, "data.bin", g_bytes_get_data (random, NULL),
                                      g_bytes_get_size (random));
  g_autofree char *eml_path = g_build_filename (fixture->dir, "message.eml", NULL);
  g_autoptr(GFile) eml = g_file_new_for_path (eml_path);
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(GBytes) on_disk = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  g_autofree char *preview = NULL;
  const char *body;
  gsize kept;
  guint64 size;

  dispatch_message_set_text (message, "Line one\n.dot line\nGrüße\n");
  attach (message, blob, data);
  prepare (message, FALSE, FALSE);

  first = write_to_bytes (message, FALSE);
  second = write_to_bytes (message, FALSE);
  g_assert_true (g_bytes_equal (first, second));

  size = dispatch_message_get_size (message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, g_bytes_get_size (first));

  g_assert_true (dispatch_message_write_to_file (message, eml, NULL, &error));
  g_assert_no_error (error);
  on_disk = g_file_load_bytes (eml, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (on_disk, first));

  /* Without a limit the source is the wire form; with one, the attachment is cut short. */
  source = dispatch_message_to_string (message, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (source, strlen (source), g_bytes_get_data (first, NULL), g_bytes_get_size (first));

  /* 1000 octets hold 12 whole base64 lines of 78; the preview is the source up to there,
   * then the note. */
  preview = dispatch_message_to_string (message, 1000, &error);
  g_assert_no_error (error);
  g_assert_true (g_utf8_validate (preview, -1, NULL));
  body = strstr (strstr (source, "Content-Disposition: attachment"), "\r\n\r\n") + 4;
  kept = body - source + 12 * 78;
  g_assert_cmpmem (preview, kept, source, kept);
  g_assert_true (g_str_has_prefix (preview + kept, "[… the rest of this attachment ("));
  g_assert_true (g_str_has_suffix (preview, "--\r\n"));
  g_assert_cmpuint (strlen (preview), <, kept + 200);

  /* A fresh prepare is a new message: new Message-ID and Date, so different bytes. */
  prepare (message, FALSE, FALSE);
  g_clear_pointer (&second, g_bytes_unref);
  second = write_to_bytes (message, FALSE);
  g_assert_false (g_bytes_equal (first, second));
}

typedef struct
{
  GArray *calls;
} ProgressLog;

static void
on_progress (guint64  written,
             gpointer user_data)
{
  ProgressLog *log = user_data;

  g_array_append_val (log->calls, written);
}

static void
test_progress (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) random = random_bytes (300 * 1024);
  g_autoptr(GFile) blob = write_file (fixture, "data.bin", g_bytes_get_data (random, NULL),
                                      g_bytes_get_size (random));
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  ProgressLog log = { g_array_new (FALSE, FALSE, sizeof (guint64)) };
  gsize total;

  dispatch_message_add_attachment (message, blob);
  prepare (message, FALSE, FALSE);

  g_assert_true (dispatch_message_write (message, output, TRUE, on_progress, &log, NULL, &error));
  g_assert_no_error (error);
  total = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output));

  g_assert_cmpuint (log.calls->len, >=, 2);
  g_assert_cmpuint (log.calls->len, <=, total / (64 * 1024) + 1);
  /* Rising, at least 64 KiB apart except for the final call. */
  for (guint i = 0; i < log.calls->len; i++)
    {
      guint64 previous = i > 0 ? g_array_index (log.calls, guint64, i - 1) : 0;
      guint64 current = g_array_index (log.calls, guint64, i);

      g_assert_cmpuint (current, >, previous);
      if (i + 1 < log.calls->len)
        g_assert_cmpuint (current - previous, >=, 64 * 1024);
    }
  g_assert_cmpuint (g_array_index (log.calls, guint64, log.calls->len - 1), ==, total);

  g_array_unref (log.calls);
}

static void
test_cancelled (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(DispatchMessage) message = new_message ();
  g_autoptr(GBytes) random = random_bytes (10 * 1024);
  g_autoptr(GFile) blob = write_file (fixture, "data.bin", g_bytes_get_data (random, NULL),
                                      g_bytes_get_size (random));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autofree char *eml_path = g_build_filename (fixture->dir, "cancelled.eml", NULL);
  g_autoptr(GFile) eml = g_file_new_for_path (eml_path);
  g_autoptr(GError) error = NULL;

  attach (message, blob, data);
  prepare (message, FALSE, FALSE);
  g_cancellable_cancel (cancellable);

  g_assert_false (dispatch_message_write (message, output, TRUE, NULL, NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_cmpuint (dispatch_message_get_size (message, cancellable, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_false (dispatch_message_write_to_file (message, eml, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_query_exists (eml, NULL));
}


/* Streaming: memory must not grow with the attachment. */

typedef struct
{
  GOutputStream parent_instance;
  guint64       count;
} CountingStream;

typedef struct
{
  GOutputStreamClass parent_class;
} CountingStreamClass;

static GType counting_stream_get_type (void);

G_DEFINE_TYPE (CountingStream, counting_stream, G_TYPE_OUTPUT_STREAM)

static gssize
counting_stream_write (GOutputStream  *stream,
                       const void     *buffer,
                       gsize           count,
                       GCancellable   *cancellable,
                       GError        **error)
{
  ((CountingStream *) stream)->count += count;
  return count;
}

static void
counting_stream_class_init (CountingStreamClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = counting_stream_write;
}

static void
counting_stream_init (CountingStream *self)
{
}

/* Peak resident memory in KiB, or 0 where /proc does not say. */
static guint64
peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "\nVmHWM:");
  if (line == NULL)
    return 0;

  return g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10);
}

static void
test_streaming (Fixture       *fixture,
                gconstpointer  data)
{
  const gsize size = 20 * 1024 * 1024;
  g_autoptr(DispatchMessage) message = new_message ();
  g_autofree char *path = g_build_filename (fixture->dir, "big.bin", NULL);
  g_autoptr(GFile) big = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) file_output = NULL;
  g_autoptr(GOutputStream) counter = NULL;
  g_autoptr(GError) error = NULL;
  guint32 chunk[16 * 1024];
  guint64 before, after, expected;

  /* Written in chunks, so that making the file does not raise the peak either. */
  file_output = g_file_create (big, G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  for (gsize done = 0; done < size; done += sizeof chunk)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (chunk); i++)
        chunk[i] = g_random_int ();
      g_output_stream_write_all (G_OUTPUT_STREAM (file_output), chunk, sizeof chunk, NULL, NULL, &error);
      g_assert_no_error (error);
    }
  g_output_stream_close (G_OUTPUT_STREAM (file_output), NULL, &error);
  g_assert_no_error (error);

  attach (message, big, data);
  prepare (message, FALSE, FALSE);

  before = peak_rss_kib ();
  if (before == 0)
    {
      g_test_skip ("no VmHWM in /proc/self/status");
      return;
    }

  counter = g_object_new (counting_stream_get_type (), NULL);
  g_assert_true (dispatch_message_write (message, counter, TRUE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  expected = dispatch_message_get_size (message, NULL, &error);
  g_assert_no_error (error);
  after = peak_rss_kib ();

  /* base64 makes 20 MiB about 27 MiB on the wire */
  g_assert_cmpuint (((CountingStream *) counter)->count, >, size / 3 * 4);
  g_assert_cmpuint (((CountingStream *) counter)->count, ==, expected);
  g_test_message ("peak RSS before %" G_GUINT64_FORMAT " KiB, after %" G_GUINT64_FORMAT " KiB",
                  before, after);
  g_assert_cmpuint (after, <, before + 4 * 1024);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_mime_init ();
  dispatch_engine_init ();

  g_test_add_func ("/message/headers", test_headers);
  g_test_add_func ("/message/non-ascii-names", test_non_ascii_names);
  g_test_add_func ("/message/envelope", test_envelope);
  g_test_add_func ("/message/bcc-only", test_bcc_only);
  g_test_add_func ("/message/international-addresses", test_international_addresses);
  g_test_add_func ("/message/ascii-domains", test_ascii_domains);
  g_test_add_func ("/message/message-id-domain", test_message_id_domain);
  g_test_add_func ("/message/bad-input", test_bad_input);
  g_test_add_func ("/message/missing-from", test_missing_from);
  g_test_add ("/message/unreadable-attachment", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_unreadable_attachment, fixture_tear_down);
  g_test_add ("/message/unreadable-attachment-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_unreadable_attachment, fixture_tear_down);
  g_test_add_func ("/message/single-part", test_single_part);
  g_test_add_func ("/message/empty-text", test_empty_text);
  g_test_add ("/message/attachments", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_attachments, fixture_tear_down);
  g_test_add ("/message/attachments-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_attachments, fixture_tear_down);
  g_test_add ("/message/attachment-relative-path", Fixture, NULL,
              fixture_set_up, test_attachment_relative_path, fixture_tear_down);
  g_test_add ("/message/line-endings", Fixture, NULL,
              fixture_set_up, test_line_endings, fixture_tear_down);
  g_test_add_func ("/message/text-encoding", test_text_encoding);
  g_test_add_func ("/message/dot-stuffing", test_dot_stuffing);
  g_test_add_func ("/message/dot-stuffing-large", test_dot_stuffing_large);
  g_test_add ("/message/text-line-ends", Fixture, NULL,
              fixture_set_up, test_text_line_ends, fixture_tear_down);
  g_test_add ("/message/size-without-encoding", Fixture, NULL,
              fixture_set_up, test_size_without_encoding, fixture_tear_down);
  g_test_add_data_func ("/message/size-unsized-file", GINT_TO_POINTER (ATTACH_FILE),
                        test_size_unsized_file);
  g_test_add_data_func ("/message/size-unsized-file-path", GINT_TO_POINTER (ATTACH_PATH),
                        test_size_unsized_file);
  g_test_add_func ("/message/literal-display-names", test_literal_display_names);
  g_test_add ("/message/injection", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_injection, fixture_tear_down);
  g_test_add ("/message/injection-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_injection, fixture_tear_down);
  g_test_add_data_func ("/message/attachment-pipe", GINT_TO_POINTER (ATTACH_FILE),
                        test_attachment_pipe);
  g_test_add_data_func ("/message/attachment-pipe-path", GINT_TO_POINTER (ATTACH_PATH),
                        test_attachment_pipe);
  g_test_add ("/message/size-and-file", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_size_and_file, fixture_tear_down);
  g_test_add ("/message/size-and-file-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_size_and_file, fixture_tear_down);
  g_test_add ("/message/progress", Fixture, NULL,
              fixture_set_up, test_progress, fixture_tear_down);
  g_test_add ("/message/cancelled", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_cancelled, fixture_tear_down);
  g_test_add ("/message/cancelled-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_cancelled, fixture_tear_down);
  g_test_add ("/message/streaming", Fixture, GINT_TO_POINTER (ATTACH_FILE),
              fixture_set_up, test_streaming, fixture_tear_down);
  g_test_add ("/message/streaming-path", Fixture, GINT_TO_POINTER (ATTACH_PATH),
              fixture_set_up, test_streaming, fixture_tear_down);

  return g_test_run ();
}
