/* fuzz-message.c — libFuzzer target: what a user types into From/To/Cc/Bcc/Subject/text.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: one flags byte (bit 0: the server offers 8BITMIME, bit 1: SMTPUTF8), then the fields
 * From, To, Cc, Bcc, Subject, the text and an attachment's file name, separated by NUL bytes
 * (a NUL cannot get past the C string setters anyway); missing fields stay unset, and the
 * attachment (a small file of that name) is added when the name can be a file name. When
 * _prepare() accepts the fields, the message that would go on the wire must be one the
 * dialogue can send safely:
 *   - every envelope address makes a valid MAIL FROM / RCPT TO command;
 *   - the header block holds only the headers we write (no injected header, never Bcc);
 *   - every line ends in CRLF and is at most 998 octets (RFC 5322 §2.1.1); no bare CR or LF;
 *   - after dot-stuffing no line is a lone "." (which would end DATA early);
 *   - without 8BITMIME/SMTPUTF8 every byte is 7-bit;
 *   - the size announced for SIZE= is the size written;
 *   - parsed back with GMime, the attachment part has exactly its three headers and a file
 *     name without control characters, the name as given when it had none; a subject or a
 *     display name typed with "=?" decodes to exactly what was typed.
 *
 * GMime 3.2.13's address parser leaks when an address is followed by a stray '>' (see
 * build-aux/lsan-suppressions.txt). An input on which GMime alone would leak is skipped, so
 * that the leak check keeps watching our code at full speed; the suppression would need slow,
 * deep stack unwinding through GMime's recursion, at a tenth of the speed.
 */
#include <string.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/lsan_interface.h>

#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "dispatch-engine.h"
#include "dispatch-fuzz.h"

#define MAX_LINE 998
/* NAME_MAX less room for the file system's own limits on multi-byte names. */
#define MAX_FILE_NAME 200

static char *attachment_dir;

enum { FLAG_8BITMIME = 1 << 0, FLAG_SMTPUTF8 = 1 << 1 };

/* Blocks allocated minus blocks freed while gauging GMime; this target is single-threaded. */
static gboolean gauging;
static gssize net_blocks;

static void
on_malloc (const volatile void *ptr,
           size_t               size)
{
  if (gauging)
    net_blocks++;
}

static void
on_free (const volatile void *ptr)
{
  if (gauging)
    net_blocks--;
}

static void
ignore_warning (gint64              offset,
                GMimeParserWarning  code,
                const char         *item,
                gpointer            user_data)
{
}

/* Whether GMime, parsing @text with the options the message builder uses, keeps blocks it
 * will never free. Everything allocated here is hidden from LeakSanitizer. */
static gboolean
gmime_leaks_on (const char *text)
{
  GMimeParserOptions *options;
  InternetAddressList *list;
  gssize before;

  if (text == NULL || *text == '\0')
    return FALSE;

  __lsan_disable ();
  gauging = TRUE;
  before = net_blocks;
  options = g_mime_parser_options_new ();
  g_mime_parser_options_set_address_compliance_mode (options, GMIME_RFC_COMPLIANCE_STRICT);
  g_mime_parser_options_set_allow_addresses_without_domain (options, FALSE);
  g_mime_parser_options_set_warning_callback (options, ignore_warning, NULL);
  list = internet_address_list_parse (options, text);
  g_clear_object (&list);
  g_mime_parser_options_free (options);
  gauging = FALSE;
  __lsan_enable ();

  return net_blocks > before;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  dispatch_fuzz_init ();
  dispatch_engine_init ();
  __sanitizer_install_malloc_and_free_hooks (on_malloc, on_free);
  /* GMime's and GObject's one-time set-up is not a leak of any later input. */
  gmime_leaks_on ("Ann <ann@example.org>, Team: bob@example.org;");
  attachment_dir = g_dir_make_tmp ("fuzz-message-XXXXXX", NULL);
  g_assert_nonnull (attachment_dir);
  return 0;
}

/* A file named @name in the private folder, or NULL when no file can have that name. */
static char *
make_attachment (const char *name)
{
  g_autofree char *path = NULL;

  if (name == NULL || *name == '\0' || strlen (name) > MAX_FILE_NAME || strchr (name, '/') != NULL ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    return NULL;

  path = g_build_filename (attachment_dir, name, NULL);
  if (!g_file_set_contents (path, "\x89PNG\r\n\x1a\n attachment", -1, NULL))
    return NULL;

  return g_steal_pointer (&path);
}

static gboolean
has_control (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      GUnicodeType type = g_unichar_type (g_utf8_get_char (p));

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR ||
          type == G_UNICODE_PARAGRAPH_SEPARATOR)
        return TRUE;
    }

  return FALSE;
}

/* What a reader's parser makes of the message: no smuggled part headers, names and subjects
 * as typed. */
static void
check_parsed (GBytes     *wire,
              const char *subject,
              const char *from,
              const char *attachment_name)
{
  gsize len;
  const char *data = g_bytes_get_data (wire, &len);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (data, len);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *parsed = g_mime_parser_construct_message (parser, NULL);
  GMimeObject *top;

  g_assert_nonnull (parsed);
  g_assert_null (g_mime_object_get_header (GMIME_OBJECT (parsed), "Bcc"));

  if (subject != NULL && strstr (subject, "=?") != NULL)
    g_assert_cmpstr (g_mime_message_get_subject (parsed), ==, subject);

  /* A From that is only "Name <addr>" with "=?" in the name: the name comes back as typed. */
  if (from != NULL && g_str_has_prefix (from, "=?") && g_str_has_suffix (from, ">"))
    {
      InternetAddressList *list = g_mime_message_get_from (parsed);
      const char *open = strrchr (from, '<');
      g_autofree char *name = g_strndup (from, open - from);

      g_strchomp (name);
      if (internet_address_list_length (list) == 1 && strpbrk (name, "\"<>,;:()[]\\@") == NULL &&
          !has_control (name) && strstr (name, "  ") == NULL)
        g_assert_cmpstr (internet_address_get_name (internet_address_list_get_address (list, 0)), ==,
                         name);
    }

  top = g_mime_message_get_mime_part (parsed);
  if (attachment_name != NULL)
    {
      GMimeObject *part;
      const char *filename;

      g_assert_true (GMIME_IS_MULTIPART (top));
      g_assert_cmpint (g_mime_multipart_get_count (GMIME_MULTIPART (top)), ==, 2);
      part = g_mime_multipart_get_part (GMIME_MULTIPART (top), 1);
      g_assert_cmpint (g_mime_header_list_get_count (g_mime_object_get_header_list (part)), ==, 3);
      filename = g_mime_part_get_filename (GMIME_PART (part));
      g_assert_nonnull (filename);
      g_assert_false (has_control (filename));
      if (g_utf8_validate (attachment_name, -1, NULL) && !has_control (attachment_name) &&
          strstr (attachment_name, "=?") == NULL && !g_ascii_isspace (attachment_name[0]) &&
          !g_ascii_isspace (attachment_name[strlen (attachment_name) - 1]))
        g_assert_cmpstr (filename, ==, attachment_name);
    }
  else
    {
      g_assert_false (GMIME_IS_MULTIPART (top));
    }

  g_object_unref (parsed);
  g_object_unref (parser);
  g_object_unref (stream);
}

static GBytes *
write_message (DispatchMessage *message,
               gboolean         dot_stuff)
{
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;

  g_assert_true (dispatch_message_write (message, output, dot_stuff, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (output, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
}

/* Lines are CRLF-terminated, bounded, and carry no stray CR or LF. Returns the length of the
 * header block (up to and including the empty line). */
static gsize
check_lines (const char *data,
             gsize       length,
             gboolean    dot_stuffed)
{
  gsize header_end = 0;
  gsize start = 0;

  g_assert_cmpuint (length, >=, 2);
  g_assert_true (data[length - 2] == '\r' && data[length - 1] == '\n');

  while (start < length)
    {
      const char *lf = memchr (data + start, '\n', length - start);
      gsize end;

      g_assert_nonnull (lf);
      end = lf - data;
      g_assert_cmpuint (end, >, start);
      g_assert_true (data[end - 1] == '\r');
      g_assert_null (memchr (data + start, '\r', end - 1 - start));
      g_assert_cmpuint (end - 1 - start, <=, MAX_LINE + (dot_stuffed ? 1 : 0));

      if (dot_stuffed && data[start] == '.')
        g_assert_true (end - 1 - start >= 2 && data[start + 1] == '.');

      if (header_end == 0 && end - 1 == start)
        header_end = end + 1;
      start = end + 1;
    }

  g_assert_cmpuint (header_end, >, 0);
  return header_end;
}

static void
check_headers (const char *data,
               gsize       length)
{
  static const char * const allowed[] = {
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "User-Agent", "MIME-Version",
    "Content-Type", "Content-Transfer-Encoding",
  };
  g_autofree char *block = g_strndup (data, length);
  g_auto(GStrv) lines = g_strsplit (block, "\r\n", -1);
  guint seen[G_N_ELEMENTS (allowed)] = { 0 };

  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      const char *colon;
      gboolean known = FALSE;

      /* Folded continuation of the header above. */
      if (lines[i][0] == ' ' || lines[i][0] == '\t')
        {
          g_assert_cmpuint (i, >, 0);
          continue;
        }

      colon = strchr (lines[i], ':');
      g_assert_nonnull (colon);
      for (guint k = 0; k < G_N_ELEMENTS (allowed); k++)
        {
          if (strlen (allowed[k]) == (gsize) (colon - lines[i]) &&
              g_ascii_strncasecmp (lines[i], allowed[k], colon - lines[i]) == 0)
            {
              seen[k]++;
              known = TRUE;
            }
        }
      if (!known)
        g_error ("unexpected header line: %s", lines[i]);
    }

  for (guint k = 0; k < G_N_ELEMENTS (allowed); k++)
    g_assert_cmpuint (seen[k], <=, 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(DispatchMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) stuffed = NULL;
  g_autofree char *source = NULL;
  const char *fields[7] = { NULL };
  g_autofree char *attachment = NULL;
  const char * const *recipients;
  const char *from;
  const char *bytes;
  gboolean allow_8bit, allow_utf8;
  gboolean needs_8bit, needs_utf8;
  guint64 announced;
  gsize plain_len, stuffed_len, header_len;
  g_autofree char *copy = NULL;
  gsize rest;

  if (size < 1)
    return 0;

  allow_8bit = (data[0] & FLAG_8BITMIME) != 0;
  allow_utf8 = (data[0] & FLAG_SMTPUTF8) != 0;

  /* The fields, NUL-separated; the copy adds the terminating NUL of the last one. */
  rest = size - 1;
  copy = g_malloc (rest + 1);
  memcpy (copy, data + 1, rest);
  copy[rest] = '\0';
  for (gsize pos = 0, f = 0; f < G_N_ELEMENTS (fields) && pos <= rest; f++)
    {
      fields[f] = copy + pos;
      pos += strlen (copy + pos) + 1;
    }

  for (guint f = 0; f < 4; f++)
    if (gmime_leaks_on (fields[f]))
      return 0;

  message = dispatch_message_new ();
  dispatch_message_set_from (message, fields[0]);
  dispatch_message_set_to (message, fields[1]);
  dispatch_message_set_cc (message, fields[2]);
  dispatch_message_set_bcc (message, fields[3]);
  dispatch_message_set_subject (message, fields[4]);
  dispatch_message_set_text (message, fields[5]);
  attachment = make_attachment (fields[6]);
  if (attachment != NULL)
    dispatch_message_add_attachment_path (message, attachment);

  if (!dispatch_message_prepare (message, allow_8bit, allow_utf8, NULL, &error))
    {
      if (attachment != NULL)
        g_remove (attachment);
      g_assert_true (g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_null (dispatch_message_get_envelope_from (message));
      return 0;
    }
  g_assert_no_error (error);

  needs_8bit = dispatch_message_needs_8bitmime (message);
  needs_utf8 = dispatch_message_needs_smtputf8 (message);
  g_assert_true (allow_8bit || !needs_8bit);
  g_assert_true (allow_utf8 || !needs_utf8);

  /* The envelope as the session will send it. */
  from = dispatch_message_get_envelope_from (message);
  g_assert_nonnull (from);
  {
    g_autofree char *mail = dispatch_smtp_command_mail_from (from, 1, DISPATCH_SMTP_BODY_NONE,
                                                             needs_utf8, &error);
    g_assert_no_error (error);
    g_assert_nonnull (mail);
  }
  recipients = dispatch_message_get_envelope_recipients (message);
  g_assert_nonnull (recipients);
  g_assert_nonnull (recipients[0]);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      g_autofree char *rcpt = dispatch_smtp_command_rcpt_to (recipients[i], needs_utf8, &error);

      g_assert_no_error (error);
      g_assert_nonnull (rcpt);
      for (guint k = 0; k < i; k++)
        g_assert_cmpstr (recipients[k], !=, recipients[i]);
    }

  announced = dispatch_message_get_size (message, NULL, &error);
  g_assert_no_error (error);

  plain = write_message (message, FALSE);
  bytes = g_bytes_get_data (plain, &plain_len);
  g_assert_cmpuint (announced, ==, plain_len);
  header_len = check_lines (bytes, plain_len, FALSE);
  check_headers (bytes, header_len);
  if (!needs_8bit && !needs_utf8)
    for (gsize i = 0; i < plain_len; i++)
      g_assert_cmpuint ((guchar) bytes[i], <, 0x80);

  stuffed = write_message (message, TRUE);
  bytes = g_bytes_get_data (stuffed, &stuffed_len);
  g_assert_cmpuint (stuffed_len, >=, plain_len);
  check_lines (bytes, stuffed_len, TRUE);

  /* "View message source" is the same writer: the same bytes. */
  source = dispatch_message_to_string (message, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (source), ==, plain_len);

  check_parsed (plain, fields[4], fields[0], attachment != NULL ? fields[6] : NULL);
  if (attachment != NULL)
    g_remove (attachment);

  return 0;
}
