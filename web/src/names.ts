// Resource names: of what a person types, and of what a name belongs to.

/** The project an issue (or anything under a project) belongs to: `projects/CORE`. */
export function projectOf(name: string): string {
  return name.split("/").slice(0, 2).join("/");
}

/**
 * An issue's name from what a person types: its key (`CORE-12`, any case),
 * its number in `project` (`12`, `#12`), its name, or a link to it.
 */
export function issueNameFrom(text: string, project: string): string | undefined {
  let typed = text.trim();
  try {
    typed = new URL(typed).pathname;
  } catch {
    // Not a link: taken as typed.
  }
  typed = typed.replace(/^\//, "");
  const number = /^#?([1-9][0-9]{0,17})$/.exec(typed);
  if (number) return `${project}/issues/${number[1]}`;
  return issueNameOfKey(typed) ?? (ISSUE_NAME.test(typed) ? typed : undefined);
}

/** `projects/CORE/issues/12` of the key `CORE-12` (any case), else undefined. */
export function issueNameOfKey(text: string): string | undefined {
  const key = /^([A-Za-z][A-Za-z0-9]{1,9})-([1-9][0-9]{0,17})$/.exec(text.trim());
  return key ? `projects/${key[1]?.toUpperCase()}/issues/${key[2]}` : undefined;
}

const ISSUE_NAME = /^projects\/[A-Z][A-Z0-9]{1,9}\/issues\/[1-9][0-9]{0,17}$/;
