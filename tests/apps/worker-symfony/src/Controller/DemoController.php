<?php

namespace App\Controller;

use Symfony\Bundle\FrameworkBundle\Controller\AbstractController;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;

final class DemoController extends AbstractController
{
    /** Counts visits in the session. */
    public function home(Request $request): Response
    {
        $session = $request->getSession();
        $visits = $session->get('visits', 0) + 1;
        $session->set('visits', $visits);

        return $this->render('home.html.twig', ['visits' => $visits]);
    }

    /** A form protected by a CSRF token; on success, a flash message and a redirect. */
    public function contact(Request $request): Response
    {
        if ($request->isMethod('POST')) {
            if (!$this->isCsrfTokenValid('contact', (string) $request->request->get('_token'))) {
                return $this->render('contact.html.twig', ['error' => 'Invalid CSRF token.'], new Response('', 403));
            }
            $this->addFlash('notice', sprintf('Thanks, %s!', trim((string) $request->request->get('name'))));

            return $this->redirectToRoute('thanks');
        }

        return $this->render('contact.html.twig', ['error' => null]);
    }

    /** A page without a session (the benchmark's page). */
    public function hello(string $name): Response
    {
        return $this->render('hello.html.twig', ['name' => $name]);
    }

    /** A JSON route without a session (the benchmark's JSON page). */
    public function items(int $count): JsonResponse
    {
        $items = [];
        for ($i = 1; $i <= $count; $i++) {
            $items[] = ['id' => $i, 'name' => "Item $i", 'price' => round($i * 1.25, 2)];
        }

        return $this->json(['count' => $count, 'items' => $items]);
    }

    public function thanks(): Response
    {
        return $this->render('thanks.html.twig');
    }
}
