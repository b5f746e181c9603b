import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AnswerBody,
  AnswerResult,
  CheckResult,
  HintParams,
  HintResult,
  IdParams,
  LabSecrets,
  LabTasks,
  SolutionResult,
  TaskActivity,
  TaskParams,
} from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { TaskService } from '../services/task.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** A lab's tasks: answers, hints, checks, solutions; staff also see secrets and every attempt. */
export const tasksRoutes: FastifyPluginAsyncTypebox<{ tasks: TaskService }> = async (app, { tasks }) => {
  const tags = ['tasks'];

  app.get(
    '/labs/:id/tasks',
    {
      schema: {
        tags,
        summary: "The lab's tasks as you see them: state, points, score, attempts left, hints (no answers, secrets or checks)",
        security: bearer,
        params: IdParams,
        response: { 200: LabTasks, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => tasks.list(actorOf(request), request.params.id),
  );

  app.post(
    '/labs/:id/tasks/:taskId/answers',
    {
      config: { audit: 'task.answer' },
      schema: {
        tags,
        summary: 'Submit an answer (text, or option ids for a choice task); refused when locked or out of attempts; rate-limited',
        security: bearer,
        params: TaskParams,
        body: AnswerBody,
        response: { 200: AnswerResult, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const result = await tasks.answer(actorOf(request), request.params.id, request.params.taskId, request.body.answer);
      request.auditTarget = { type: 'lab', id: request.params.id, details: { taskId: request.params.taskId, correct: result.correct } };
      return result;
    },
  );

  app.post(
    '/labs/:id/tasks/:taskId/hints/:hintId',
    {
      config: { audit: 'task.hint' },
      schema: {
        tags,
        summary: 'Reveal a hint: returns its text; its cost counts against the task from now on',
        security: bearer,
        params: HintParams,
        response: { 200: HintResult, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = {
        type: 'lab',
        id: request.params.id,
        details: { taskId: request.params.taskId, hintId: request.params.hintId },
      };
      return tasks.revealHint(actorOf(request), request.params.id, request.params.taskId, request.params.hintId);
    },
  );

  app.post(
    '/labs/:id/tasks/:taskId/check',
    {
      config: { audit: 'task.check' },
      schema: {
        tags,
        summary: "Run the task's check inside the lab now: pass/fail and a short output excerpt; a pass solves; rate-limited",
        security: bearer,
        params: TaskParams,
        response: { 200: CheckResult, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const result = await tasks.check(actorOf(request), request.params.id, request.params.taskId);
      request.auditTarget = { type: 'lab', id: request.params.id, details: { taskId: request.params.taskId, passed: result.passed } };
      return result;
    },
  );

  app.post(
    '/labs/:id/tasks/:taskId/solution',
    {
      config: { audit: 'task.solution' },
      schema: {
        tags,
        summary: 'Reveal the solution, when the template allows it (the task is then worth 0)',
        security: bearer,
        params: TaskParams,
        response: { 200: SolutionResult, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'lab', id: request.params.id, details: { taskId: request.params.taskId } };
      return tasks.revealSolution(actorOf(request), request.params.id, request.params.taskId);
    },
  );

  app.get(
    '/labs/:id/secrets',
    {
      schema: {
        tags,
        summary: "Staff: the lab's generated secret values",
        security: bearer,
        params: IdParams,
        response: { 200: LabSecrets, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => tasks.secrets(actorOf(request), request.params.id),
  );

  app.get(
    '/labs/:id/task-activity',
    {
      schema: {
        tags,
        summary: 'Staff: every answer (with what was typed, and shared answers flagged), check, hint and solution of the lab',
        security: bearer,
        params: IdParams,
        response: { 200: TaskActivity, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => tasks.activity(actorOf(request), request.params.id),
  );
};
