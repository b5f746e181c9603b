import LinearProgress from '@mui/material/LinearProgress';
import { lazy, Suspense, useEffect } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { refreshSession } from './api/base-query.js';
import { useLiveEvents } from './api/live-events.js';
import { signedIn, signedOut } from './api/session.slice.js';
import { useAppDispatch, useAppSelector } from './api/store.js';
import { AppShell } from './components/AppShell.js';
import { RequirePermission } from './components/RequirePermission.js';
import { LoginPage } from './pages/LoginPage.js';

// Pages load by route, so a student never downloads the admin pages or the consoles up front.
const DashboardPage = lazy(() => import('./pages/DashboardPage.js').then((m) => ({ default: m.DashboardPage })));
const CatalogPage = lazy(() => import('./pages/CatalogPage.js').then((m) => ({ default: m.CatalogPage })));
const LabPage = lazy(() => import('./pages/LabPage.js').then((m) => ({ default: m.LabPage })));
const ConsolePage = lazy(() => import('./pages/ConsolePage.js').then((m) => ({ default: m.ConsolePage })));
const UsersPage = lazy(() => import('./pages/admin/UsersPage.js').then((m) => ({ default: m.UsersPage })));
const QuotasPage = lazy(() => import('./pages/admin/QuotasPage.js').then((m) => ({ default: m.QuotasPage })));
const AuditPage = lazy(() => import('./pages/admin/AuditPage.js').then((m) => ({ default: m.AuditPage })));
// The overview brings its chart library (recharts) along: only admins who open it download it.
const OverviewPage = lazy(() => import('./pages/admin/OverviewPage.js').then((m) => ({ default: m.OverviewPage })));
const HostsPage = lazy(() => import('./pages/admin/HostsPage.js').then((m) => ({ default: m.HostsPage })));
const SystemPage = lazy(() => import('./pages/admin/SystemPage.js').then((m) => ({ default: m.SystemPage })));
const AllLabsPage = lazy(() => import('./pages/staff/AllLabsPage.js').then((m) => ({ default: m.AllLabsPage })));
const TemplatesPage = lazy(() => import('./pages/staff/TemplatesPage.js').then((m) => ({ default: m.TemplatesPage })));
const ImagesPage = lazy(() => import('./pages/staff/ImagesPage.js').then((m) => ({ default: m.ImagesPage })));
const ClassesPage = lazy(() => import('./pages/classes/ClassesPage.js').then((m) => ({ default: m.ClassesPage })));
const ClassPage = lazy(() => import('./pages/classes/ClassPage.js').then((m) => ({ default: m.ClassPage })));
const ScoreboardPage = lazy(() => import('./pages/classes/ScoreboardPage.js').then((m) => ({ default: m.ScoreboardPage })));
const ProgressPage = lazy(() => import('./pages/staff/ProgressPage.js').then((m) => ({ default: m.ProgressPage })));
const HelpQueuePage = lazy(() => import('./pages/staff/HelpQueuePage.js').then((m) => ({ default: m.HelpQueuePage })));
const TemplateEditorPage = lazy(() => import('./pages/staff/TemplateEditorPage.js').then((m) => ({ default: m.TemplateEditorPage })));

/** Routes by role; the session is restored from the refresh cookie on load. */
export function App() {
  const dispatch = useAppDispatch();
  const { user, restoring } = useAppSelector((s) => s.session);
  useEffect(() => {
    void refreshSession().then((session) =>
      dispatch(
        session ? signedIn({ accessToken: session.accessToken, user: session.user, permissions: session.permissions }) : signedOut(),
      ),
    );
  }, [dispatch]);
  useLiveEvents();
  if (restoring) return <LinearProgress aria-label="loading" />;
  if (!user) return <LoginPage />;
  return (
    <AppShell>
      <Suspense fallback={<LinearProgress aria-label="loading" />}>
        <Routes>
          <Route path="/" element={<DashboardPage />} />
          <Route path="/catalog" element={<CatalogPage />} />
          <Route path="/labs/:labId" element={<LabPage />} />
          <Route path="/labs/:labId/vms/:vmId/console" element={<ConsolePage />} />
          <Route path="/assignments/:assignmentId/scoreboard" element={<ScoreboardPage />} />
          <Route
            path="/staff/classes"
            element={
              <RequirePermission permission="class.teach">
                <ClassesPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/classes/:classId"
            element={
              <RequirePermission permission="class.teach">
                <ClassPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/labs"
            element={
              <RequirePermission permission="lab.watch">
                <AllLabsPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/images"
            element={
              <RequirePermission permission="image.upload">
                <ImagesPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/assignments/:assignmentId/progress"
            element={
              <RequirePermission permission="class.teach">
                <ProgressPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/help"
            element={
              <RequirePermission permission="lab.watch">
                <HelpQueuePage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/templates"
            element={
              <RequirePermission permission="template.author">
                <TemplatesPage />
              </RequirePermission>
            }
          />
          <Route
            path="/staff/templates/:templateId"
            element={
              <RequirePermission permission="template.author">
                <TemplateEditorPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/users"
            element={
              <RequirePermission permission="user.manage">
                <UsersPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/quotas"
            element={
              <RequirePermission permission="quota.manage">
                <QuotasPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/audit"
            element={
              <RequirePermission permission="audit.read">
                <AuditPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/overview"
            element={
              <RequirePermission permission="lab.manageAll">
                <OverviewPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/system"
            element={
              <RequirePermission permission="system.read">
                <SystemPage />
              </RequirePermission>
            }
          />
          <Route
            path="/admin/hosts"
            element={
              <RequirePermission permission="host.read">
                <HostsPage />
              </RequirePermission>
            }
          />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </Suspense>
    </AppShell>
  );
}
