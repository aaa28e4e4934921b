<?php

namespace App\Http\Controllers;

use Illuminate\Http\Request;
use Illuminate\Routing\Controller;

class DemoController extends Controller
{
    /** Counts visits in the session. */
    public function home(Request $request)
    {
        $visits = $request->session()->get('visits', 0) + 1;
        $request->session()->put('visits', $visits);

        return view('home', ['visits' => $visits, 'version' => app()->version()]);
    }

    public function contact()
    {
        return view('contact');
    }

    /** Reached only with a valid CSRF token (VerifyCsrfToken answers 419 otherwise). */
    public function send(Request $request)
    {
        $data = $request->validate(['name' => 'required|string|max:50']);

        return redirect()->route('thanks')->with('status', "Thanks, {$data['name']}!");
    }

    /** A page without a session (the benchmark's page). */
    public function hello(string $name)
    {
        return view('hello', ['name' => $name, 'version' => app()->version()]);
    }

    /** A JSON route without a session (the benchmark's JSON page). */
    public function items(int $count)
    {
        $items = [];
        for ($i = 1; $i <= $count; $i++) {
            $items[] = ['id' => $i, 'name' => "Item $i", 'price' => round($i * 1.25, 2)];
        }

        return response()->json(['count' => $count, 'items' => $items]);
    }

    public function thanks()
    {
        return view('thanks');
    }
}
