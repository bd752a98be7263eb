/** How the sandbox compares names, emails, domains and LinkedIn URLs, as loosely as Apollo matches them. */

export function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.trim().toLowerCase() === b.trim().toLowerCase();
}

export function joinName(first: string | null, last: string | null): string | null {
  return [first, last].filter((part) => part).join(' ') || null;
}

/** Host of a URL or bare domain, lower case, without "www.". */
export function domainOf(url: string | null | undefined): string | null {
  if (!url) return null;
  const host = url
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .split(/[/?#:]/)[0];
  return host?.replace(/^www\./, '') || null;
}

export function emailDomain(email: string | null): string | null {
  return email?.split('@')[1]?.toLowerCase() ?? null;
}

/** A LinkedIn profile URL without protocol, "www." or trailing slash, for comparing. */
export function linkedinKey(url: string | null): string | null {
  return (
    url
      ?.trim()
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/^www\./, '')
      .replace(/\/+$/, '') || null
  );
}
