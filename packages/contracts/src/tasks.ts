import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';
import { TaskType } from './templates.js';

export const TaskState = Type.Union([Type.Literal('locked'), Type.Literal('open'), Type.Literal('solved')]);
export type TaskState = Static<typeof TaskState>;

/** A hint as a lab's user sees it: its text only once revealed. */
export const LabTaskHint = Type.Object({
  id: Type.String(),
  cost: Type.Integer(),
  revealed: Type.Boolean(),
  text: Type.Optional(Type.String()),
});
export type LabTaskHint = Static<typeof LabTaskHint>;

/** A task of a lab as its users see it: no answer, no secret, no check command, no unrevealed solution. */
export const LabTask = Type.Object({
  id: Type.String(),
  title: Type.String(),
  type: TaskType,
  /** Markdown. */
  body: Type.String(),
  points: Type.Integer(),
  /** What the task is worth now: points minus revealed hints, 0 once the solution is revealed. */
  worth: Type.Integer(),
  /** Awarded score (0 until solved). */
  awarded: Type.Integer(),
  state: TaskState,
  requires: Type.Array(Type.String()),
  attempts: Type.Integer(),
  attemptsLeft: Type.Union([Type.Integer(), Type.Null()]),
  options: Type.Optional(Type.Array(Type.Object({ id: Type.String(), text: Type.String() }))),
  /** For choice tasks: true when more than one option is correct. */
  multiple: Type.Optional(Type.Boolean()),
  hints: Type.Array(LabTaskHint),
  solutionAvailable: Type.Boolean(),
  solutionRevealed: Type.Boolean(),
  solution: Type.Optional(Type.String()),
  lastCheck: Type.Optional(Type.Object({ passed: Type.Boolean(), output: Type.String(), at: Timestamp })),
});
export type LabTask = Static<typeof LabTask>;

export const LabTasks = Type.Object({ tasks: Type.Array(LabTask), score: Type.Integer(), maxScore: Type.Integer() });
export type LabTasks = Static<typeof LabTasks>;

export const TaskParams = Type.Object(
  { id: Uuid, taskId: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9-]*$' }) },
  { additionalProperties: false },
);
export type TaskParams = Static<typeof TaskParams>;

export const HintParams = Type.Object(
  {
    id: Uuid,
    taskId: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9-]*$' }),
    hintId: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9-]*$' }),
  },
  { additionalProperties: false },
);
export type HintParams = Static<typeof HintParams>;

/** An answer: text, or for choice tasks the ids of the chosen options. */
export const AnswerBody = Type.Object(
  {
    answer: Type.Union([
      Type.String({ minLength: 1, maxLength: 2000, pattern: '^[^\\u0000]*$' }),
      Type.Array(Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9-]*$' }), { minItems: 1, maxItems: 20 }),
    ]),
  },
  { additionalProperties: false },
);
export type AnswerBody = Static<typeof AnswerBody>;

export const AnswerResult = Type.Object({
  correct: Type.Boolean(),
  awarded: Type.Integer(),
  attemptsLeft: Type.Union([Type.Integer(), Type.Null()]),
  task: LabTask,
});
export type AnswerResult = Static<typeof AnswerResult>;

export const CheckResult = Type.Object({ passed: Type.Boolean(), output: Type.String(), task: LabTask });
export type CheckResult = Static<typeof CheckResult>;

export const HintResult = Type.Object({ id: Type.String(), text: Type.String(), cost: Type.Integer(), task: LabTask });
export type HintResult = Static<typeof HintResult>;

export const SolutionResult = Type.Object({ solution: Type.String(), task: LabTask });
export type SolutionResult = Static<typeof SolutionResult>;

/** Staff only: the lab's generated secret values. */
export const LabSecrets = Type.Object({
  secrets: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), value: Type.String() })),
});
export type LabSecrets = Static<typeof LabSecrets>;

/** Staff only: every answer, check, hint and solution reveal of a lab, newest first. */
export const TaskActivity = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      at: Timestamp,
      taskId: Type.String(),
      kind: Type.Union([Type.Literal('answer'), Type.Literal('check'), Type.Literal('hint'), Type.Literal('solution')]),
      username: Type.String(),
      answer: Type.Union([Type.String(), Type.Null()]),
      correct: Type.Union([Type.Boolean(), Type.Null()]),
      sharedFromLabId: Type.Union([Uuid, Type.Null()]),
      output: Type.Union([Type.String(), Type.Null()]),
      hintId: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
export type TaskActivity = Static<typeof TaskActivity>;
